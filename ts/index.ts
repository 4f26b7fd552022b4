/**
 * pyhost: host Python WSGI applications from Node.js.
 *
 * ```ts
 * import { Engine } from 'pyhost';
 * const engine = await Engine.start({ pythonPath: ['/srv/app'] });
 * const tenant = engine.group('tenant-a', { gil: 'own', threads: 4 });
 * await tenant.exec('import json; x = 41');
 * await tenant.eval('x + 1'); // 42
 * await engine.close();
 * ```
 */
export { Engine, type EngineOptions } from './engine.js';
export { Group, GLOBAL_GROUP, type CallOptions, type GroupKind, type GroupOptions, type IterateOptions } from './group.js';
export type { HostFunction } from './native/host-functions.js';
export { PyhostError, PythonError, ConfigError } from './errors.js';
export { schedulerPolicy, setSchedulerPolicy, type SchedulerPolicy } from './scheduler/policy.js';
export { Logger, formatLogRecord, type LogLevel, type LogRecord, type LogSink } from './logger.js';
export type { MountHandler, MountOptions } from './http/mount.js';
export { DaemonGroup } from './daemon/daemon-group.js';
export type { DaemonGroupOptions } from './daemon/options.js';
export { loadConfig, formatPlan, type SitePlan, type LoadOptions } from './config/index.js';
export { Site, type SiteOptions, type SiteListener } from './site/site.js';
