/**
 * Engine: the public entry point. Owns the process's embedded Python runtime (one per process,
 * shared by every Engine in it) and the application groups.
 */
import path from 'node:path';
import { PyhostError } from './errors.js';
import { GLOBAL_GROUP, Group, type GroupOptions, type ResolvedGroupOptions } from './group.js';
import { Logger, LOG_LEVELS, stderrSink, type LogLevel, type LogSink } from './logger.js';
import { nativeCalls } from './native/calls.js';
import { hostFunctions, type HostFunction } from './native/host-functions.js';
import { joinRuntime, leaveRuntime, threadRuntime, type ThreadRuntime } from './native/runtime.js';
import type { NativeAddon } from './native/types.js';
import { resolveGroupName } from './http/app-groups.js';
import { DaemonBackend } from './daemon/backend.js';
import { DaemonGroup } from './daemon/daemon-group.js';
import { resolveDaemonGroup, type DaemonGroupOptions } from './daemon/options.js';
import { EmbeddedBackend } from './http/embedded.js';
import { createMountHandler, resolveMountOptions, type MountHandler, type MountOptions } from './http/mount.js';
import { closeNativeFronts } from './front/native-front.js';
import { attachDaemonPlan, attachEmbeddedPlan } from './front/native-plan.js';
import { checkKnownKeys, enumOption, intOption, invalid, stringArrayOption, stringOption } from './options.js';
import { extensionsFor, leastLoaded, refusalEvent, refusalLogLine, schedulerPolicy } from './scheduler/index.js';
import { NO_EVENTS, type SchedulerEvents } from './scheduler/events.js';
// Type only: prom-client is loaded when an engine asks for metrics. Merely loading it (with
// @opentelemetry/api) slowed every request through engine.mount() by a third: V8's young
// generation copied 3x the survivors per scavenge (hello world 31k -> 21k requests/s).
import type { EngineMetrics } from './metrics/engine-metrics.js';

/** Options of {@link Engine.start}. */
export interface EngineOptions {
  /** Path of the Python executable to embed (default: `$PYHOST_PYTHON`, else the default build). */
  python?: string;
  /** A venv (made with `python -m venv`) or an installation prefix, like WSGIPythonHome. */
  pythonHome?: string;
  /** sys.path entries, processed like `site.addsitedir` and put first, in every interpreter. */
  pythonPath?: string[];
  /** Working directory of the process; also put on sys.path. */
  home?: string;
  /** Python's -O level. */
  optimize?: 0 | 1 | 2;
  /**
   * Python's memory allocator, chosen once per process (default: CPython's, or `$PYTHONMALLOC`).
   * 'malloc' suits harnesses that create and destroy many own-GIL interpreters: CPython 3.12/3.13
   * keep every pymalloc arena of an isolated interpreter that still has a live block when it ends
   * (measured on 3.13.0: ~1.7 MB per create/destroy cycle with pymalloc, ~0.2 MB with malloc).
   */
  allocator?: 'pymalloc' | 'malloc';
  /** Where log lines go (default: stderr). */
  logger?: LogSink;
  /** Least level logged (default 'info'). */
  logLevel?: LogLevel;
  /** Milliseconds close() may take before it gives up finalising Python (default 5000). */
  shutdownTimeout?: number;
  /**
   * WSGIRestrictEmbedded: this process never initialises Python; applications run only in daemon
   * process groups, and a mount without `processGroup` is an error.
   */
  restrictEmbedded?: boolean;
  /**
   * Count requests, latency, refusals, timeouts, fallbacks and daemon restarts for
   * {@link Engine.metrics} (default false: nothing is counted per request).
   */
  metrics?: boolean;
}

const ENGINE_KEYS = [
  'python', 'pythonHome', 'pythonPath', 'home', 'optimize', 'allocator', 'logger', 'logLevel', 'shutdownTimeout', 'restrictEmbedded', 'metrics',
] as const;
const GROUP_KEYS = ['gil', 'threads', 'fallback', 'queueLimit', 'extensions', 'pythonPath', 'pooled', 'host'] as const;
const NATIVE_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];
const ALLOCATORS = ['pymalloc', 'malloc'] as const;

export class Engine {
  /** The embedded Python's version, e.g. "3.13.0" ('' when embedded Python is restricted). */
  readonly pythonVersion: string;
  /** The Python executable the engine runs as (sys.executable; '' when restricted). */
  readonly python: string;
  readonly logger: Logger;
  private readonly groups = new Map<string, Group>();
  private readonly daemonGroups = new Map<string, DaemonGroup>();
  private readonly mounts = new Set<MountHandler>();
  private closing: Promise<void> | undefined;
  private readonly shutdownTimeout: number;
  private metricsOf: EngineMetrics | undefined;
  /** @internal where the scheduler's events go: the metrics, or nowhere. */
  events: SchedulerEvents = NO_EVENTS;

  private constructor(
    private readonly runtime: ThreadRuntime | undefined,
    logger: Logger,
    shutdownTimeout: number,
    private readonly defaultPython: string | undefined,
    metrics: typeof EngineMetrics | undefined,
  ) {
    this.pythonVersion = runtime?.version ?? '';
    this.python = runtime?.program ?? '';
    this.logger = logger;
    this.shutdownTimeout = shutdownTimeout;
    if (metrics) this.enableMetrics(metrics);
  }

  private enableMetrics(Metrics: typeof EngineMetrics): void {
    this.metricsOf = new Metrics({
      groups: () =>
        [...this.groups.values()].map((g) => {
          const st = g.stats();
          return { group: g.name, queued: st.queued, running: st.busy.length };
        }),
      daemonGroups: () =>
        [...this.daemonGroups.values()].map((d) => {
          const st = d.stats();
          return {
            processGroup: d.name,
            queued: st.queued,
            running: st.processes.reduce((n, p) => n + p.busy, 0),
            ready: st.processes.filter((p) => p.state === 'ready').length,
          };
        }),
    });
    this.events = this.metricsOf;
  }

  /**
   * The engine's metrics in the Prometheus text exposition format: requests by status class,
   * latency histogram, refusals, timeouts, %{GLOBAL} fallbacks, daemon restarts (per application
   * group and daemon process group), and the queue depth, running work and ready daemon processes
   * at the scrape. Needs `Engine.start({ metrics: true })`.
   */
  metrics(): Promise<string> {
    if (!this.metricsOf) return Promise.reject(new PyhostError('ERR_METRICS_OFF', 'metrics(): start the engine with { metrics: true }'));
    return this.metricsOf.text();
  }

  /** @internal the prom-client registry (to serve or merge), when metrics are on. */
  get metricsRegistry(): EngineMetrics | undefined {
    return this.metricsOf;
  }

  /**
   * Whether every group can take work now: embedded groups open and under their queue limit,
   * daemon process groups with a ready process. (The CLI's --health answers 200 or 503 by it.)
   */
  healthy(): { ok: boolean; problems: string[] } {
    const problems: string[] = [];
    if (this.closed) problems.push('the engine is closed');
    for (const g of this.groups.values()) {
      if (g.load >= g.options.threads + g.options.queueLimit) problems.push(`group ${g.name}: queue full`);
    }
    for (const d of this.daemonGroups.values()) {
      if (!d.stats().processes.some((p) => p.state === 'ready')) problems.push(`daemon process group ${d.name}: no process ready`);
    }
    return { ok: problems.length === 0, problems };
  }

  /** True when this engine runs no Python itself (WSGIRestrictEmbedded). */
  get restrictEmbedded(): boolean {
    return this.runtime === undefined;
  }

  private embedded(what: string): ThreadRuntime {
    if (!this.runtime) {
      throw new PyhostError(
        'ERR_EMBEDDED_RESTRICTED',
        `${what}: embedded Python is turned off (restrictEmbedded / WSGIRestrictEmbedded On); use a daemon process group`,
      );
    }
    return this.runtime;
  }

  /** Starts (or joins) the process's Python runtime. */
  static async start(options: EngineOptions = {}): Promise<Engine> {
    checkKnownKeys('Engine.start', options, ENGINE_KEYS);
    const what = 'Engine.start';
    const python = stringOption(what, 'python', options.python) ?? (process.env.PYHOST_PYTHON || undefined);
    const pythonHome = stringOption(what, 'pythonHome', options.pythonHome);
    const pythonPath = stringArrayOption(what, 'pythonPath', options.pythonPath).map((p) => path.resolve(p));
    const home = stringOption(what, 'home', options.home);
    const optimize = intOption(what, 'optimize', options.optimize, 0, 0, 2);
    const allocator = options.allocator === undefined ? undefined : enumOption(what, 'allocator', options.allocator, ALLOCATORS, 'pymalloc');
    const logLevel = enumOption(what, 'logLevel', options.logLevel, LOG_LEVELS, 'info');
    const shutdownTimeout = intOption(what, 'shutdownTimeout', options.shutdownTimeout, 5000, 0, 600000);
    if (options.logger !== undefined && typeof options.logger !== 'function') throw invalid(what, 'logger must be a function');
    const logger = new Logger(options.logger ?? stderrSink, logLevel);
    if (options.metrics !== undefined && typeof options.metrics !== 'boolean') throw invalid(what, 'metrics must be a boolean');
    const metrics = options.metrics === true ? (await import('./metrics/engine-metrics.js')).EngineMetrics : undefined;
    if (options.restrictEmbedded !== undefined && typeof options.restrictEmbedded !== 'boolean') {
      throw invalid(what, 'restrictEmbedded must be a boolean');
    }
    if (options.restrictEmbedded) {
      if (home) process.chdir(home);
      return new Engine(undefined, logger, shutdownTimeout, python, metrics);
    }

    const runtime = await joinRuntime(
      {
        python,
        pythonHome,
        pythonPath: options.pythonPath !== undefined ? pythonPath : undefined,
        home,
        optimize: options.optimize !== undefined ? optimize : undefined,
        allocator,
      },
      dispatchLog,
    );
    const engine = new Engine(runtime, logger, shutdownTimeout, python, metrics);
    runtime.users.add(engine);
    return engine;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * The application group `name` (created on first use; the interpreter starts with its first job).
   * `%{GLOBAL}` is the main interpreter. Asking again for a name returns the same group; its
   * options must then match or be omitted.
   */
  group(name: string, options?: GroupOptions): Group {
    if (this.closed) throw new PyhostError('ERR_ENGINE_CLOSED', 'the engine is closed');
    const runtime = this.embedded(`group ${name}`);
    if (typeof name !== 'string' || name === '') throw invalid('group', 'name must be a non-empty string');
    const existing = this.groups.get(name);
    const resolved = resolveGroupOptions(name, options, this.pythonVersion);
    if (existing) {
      if (options !== undefined && !sameOptions(existing.options, resolved)) {
        throw invalid(`group ${name}`, 'already exists with different options');
      }
      return existing;
    }
    for (const engine of runtime.users as Set<Engine>) {
      if (engine !== this && engine.groups.has(name)) {
        throw invalid(`group ${name}`, 'belongs to another Engine in this process');
      }
    }
    const host = resolved.host ? hostFunctions(runtime.addon).register(name, resolved.host, resolved.threads) : undefined;
    const handle = new runtime.addon.GroupHandle({
      name,
      kind: name === GLOBAL_GROUP ? 'main' : resolved.gil,
      strictExtensions: resolved.extensions === 'strict',
      threads: resolved.threads,
      path: resolved.pythonPath,
      pooled: resolved.pooled && resolved.pythonPath.length === 0,
      host: host?.spec,
      spinMicros: schedulerPolicy().idleSpinMicros,
      loopPollMicros: schedulerPolicy().loopPollMicros,
    });
    const group = new Group(name, resolved, handle, this.logger, () => this.closed, runtime.addon, this.events, host);
    this.groups.set(name, group);
    return group;
  }

  /**
   * A Node `(req, res)` handler serving a WSGI application (a script file, or `entryPoint`), for
   * `http.createServer`, Express or Fastify. See {@link MountOptions}.
   */
  mount(script: string | null, options?: MountOptions): MountHandler {
    if (this.closed) throw new PyhostError('ERR_ENGINE_CLOSED', 'the engine is closed');
    const opts = resolveMountOptions(script, options);
    const app = { target: opts.entryPoint ?? opts.script!, isModule: !!opts.entryPoint, callable: opts.callable, reload: opts.reload };
    if (opts.processGroup) {
      const daemon = this.daemonGroups.get(opts.processGroup);
      if (!daemon) {
        throw new PyhostError(
          'ERR_NO_DAEMON_GROUP',
          `mount: no daemon process group '${opts.processGroup}' (create it with engine.daemonGroup('${opts.processGroup}', ...))`,
        );
      }
      if (opts.preload) throw invalid('mount', 'preload applies to embedded mounts (daemon processes load on first request)');
      const handler = createMountHandler(opts, () => {
        throw new PyhostError('ERR_INTERNAL', 'daemon mounts have no embedded groups');
      }, new DaemonBackend(daemon, app, opts.groupOptions), this.logger, async () => {}, this.events);
      attachDaemonPlan(handler, opts, app);
      this.mounts.add(handler);
      return handler;
    }
    const runtime = this.embedded('mount');
    const groups = new Map<string, Group>();
    const groupByName = (name: string): Group => {
      let g = groups.get(name);
      if (!g) {
        g = this.group(name, opts.groupOptions);
        groups.set(name, g);
      }
      return g;
    };
    // With replicas, the least busy of the group's interpreters takes each request.
    const replicaNames = (name: string) => Array.from({ length: opts.replicas }, (_, i) => (i === 0 ? name : `${name}#${i + 1}`));
    const groupFor = (name: string): Group =>
      opts.replicas === 1 ? groupByName(name) : leastLoaded(replicaNames(name).map(groupByName));
    const backend = new EmbeddedBackend(runtime.addon, (ex) => groupFor(ex.groupName), app);
    const preload = async () => {
      if (opts.group === '%{RESOURCE}' || opts.group === '%{SERVER}') {
        throw new PyhostError('ERR_INVALID_OPTION', 'mount: preload needs a fixed group (not %{RESOURCE} or %{SERVER})');
      }
      const name = resolveGroupName(opts.group, { host: '', port: 0, scriptName: opts.mountPoint });
      for (const n of opts.replicas > 1 ? replicaNames(name) : [name]) await backend.preload(groupByName(n));
    };
    const handler = createMountHandler(opts, groupByName, backend, this.logger, preload, this.events);
    attachEmbeddedPlan(handler, opts, app, groupByName, replicaNames);
    this.mounts.add(handler);
    return handler;
  }

  /**
   * A daemon process group (WSGIDaemonProcess): processes started at once, supervised by this
   * engine; mounts run in it with `processGroup: name`. See {@link DaemonGroupOptions}.
   */
  daemonGroup(name: string, options?: DaemonGroupOptions): DaemonGroup {
    if (this.closed) throw new PyhostError('ERR_ENGINE_CLOSED', 'the engine is closed');
    if (this.daemonGroups.has(name)) {
      if (options !== undefined) throw invalid(`daemonGroup ${name}`, 'already exists');
      return this.daemonGroups.get(name)!;
    }
    const settings = resolveDaemonGroup(name, options, this.defaultPython ?? (this.python || undefined));
    const group = new DaemonGroup(settings, this.logger, this.events);
    group.start().catch(() => {}); // failures are logged and retried by the group
    this.daemonGroups.set(name, group);
    return group;
  }

  /** Restarts every daemon process gracefully (new processes first; no request fails). */
  async restartDaemons(): Promise<void> {
    await Promise.all([...this.daemonGroups.values()].map((g) => g.restart()));
  }

  /**
   * @internal Closes a group, waits up to `timeoutMs` for its sub-interpreter to end, and forgets
   * it: 'ended', 'leaked' (its threads could not be ended: left running) or 'stuck' (a worker
   * did not stop in time).
   */
  async dropGroup(name: string, timeoutMs: number): Promise<'ended' | 'leaked' | 'stuck'> {
    const g = this.groups.get(name);
    if (!g || name === GLOBAL_GROUP) return 'ended';
    this.groups.delete(name);
    let timer: NodeJS.Timeout | undefined;
    // The timer keeps the event loop alive while waiting (closeAndWait does not: it may never
    // answer when a worker is stuck).
    const timeout = new Promise<'stuck'>((r) => {
      timer = setTimeout(() => r('stuck'), timeoutMs);
    });
    try {
      const closed = g.native.closeAndWait().then((ended): 'ended' | 'leaked' => (ended ? 'ended' : 'leaked'));
      return await Promise.race([closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Groups created so far. */
  listGroups(): Group[] {
    return [...this.groups.values()];
  }

  /** @internal the native addon (harness, in-process requests). */
  get native(): NativeAddon {
    return this.embedded('native').addon;
  }

  /** @internal the engine that owns a group name, for log routing. */
  static ownerOf(group: string): Engine | undefined {
    const engines = threadRuntime()?.users as Set<Engine> | undefined;
    if (!engines) return undefined;
    for (const e of engines) if (e.groups.has(group)) return e;
    return engines.values().next().value;
  }

  /** Daemon process groups created so far. */
  listDaemonGroups(): DaemonGroup[] {
    return [...this.daemonGroups.values()];
  }

  /**
   * Closes the groups and, when this is the last Engine of the process, ends every
   * sub-interpreter and finalises Python, within `shutdownTimeout` ms. A worker that will not stop
   * makes pyhost skip finalisation (logged) rather than hang the process.
   */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    await closeNativeFronts(this);
    for (const m of this.mounts) m.close();
    await Promise.all([...this.daemonGroups.values()].map((g) => g.close()));
    const runtime = this.runtime;
    if (!runtime) return;
    for (const g of this.groups.values()) g.close();
    runtime.users.delete(this);
    if (runtime.users.size > 0) return;
    const r = await leaveRuntime(runtime, this.shutdownTimeout);
    if (!r.finalized && !r.detached) {
      this.logger.warn(r.report);
      runtime.addon.releaseLoop();
      nativeCalls(runtime.addon).abandonAll(
        new PyhostError('ERR_ENGINE_CLOSED', `the engine closed without finalising Python (${r.report}): this call never finished`),
      );
    }
    runtime.addon.setLogHandler(null);
  }
}

function dispatchLog(level: number, group: string, line: string): void {
  const engine = Engine.ownerOf(group);
  const refused = refusalEvent(line);
  if (engine && refused) {
    // The native front reports a refused extension (as a daemon process does); the words are the scheduler's.
    const words = refusalLogLine(group, refused);
    engine.logger.log(words.level, words.message, group);
    if (refused.moved) engine.events.fellBack(group, '');
    return;
  }
  const lvl = NATIVE_LEVELS[level] ?? 'info';
  if (engine) engine.logger.log(lvl, line, group);
  else stderrSink({ level: lvl, group, message: line });
}

function resolveGroupOptions(name: string, options: GroupOptions | undefined, version: string): ResolvedGroupOptions {
  const what = `group ${name}`;
  checkKnownKeys(what, options, GROUP_KEYS);
  const o = options ?? {};
  const gil = enumOption(what, 'gil', o.gil, ['shared', 'own'] as const, 'shared');
  if (name === GLOBAL_GROUP && gil === 'own') {
    throw invalid(what, "%{GLOBAL} is the main interpreter and shares the main GIL; gil: 'own' needs a named group");
  }
  const [major, minor] = version.split('.').map(Number);
  if (gil === 'own' && (major < 3 || (major === 3 && minor < 12))) {
    throw new PyhostError(
      'ERR_OWN_GIL_UNSUPPORTED',
      `${what}: gil: 'own' needs Python 3.12 or newer (a per-interpreter GIL); this engine runs Python ${version}`,
    );
  }
  return {
    gil,
    threads: intOption(what, 'threads', o.threads, 5, 1, 512),
    fallback: enumOption(what, 'fallback', o.fallback, ['global', 'error'] as const, 'global'),
    queueLimit: intOption(what, 'queueLimit', o.queueLimit, schedulerPolicy().defaultQueueLimit, 0, 10_000_000),
    extensions: extensionsFor(gil, o.extensions === undefined ? undefined : enumOption(what, 'extensions', o.extensions, ['legacy', 'strict'] as const, 'legacy')),
    pythonPath: stringArrayOption(what, 'pythonPath', o.pythonPath).map((p) => path.resolve(p)),
    pooled: (() => {
      if (o.pooled !== undefined && typeof o.pooled !== 'boolean') throw invalid(what, 'pooled must be a boolean');
      return o.pooled ?? false;
    })(),
    ...(o.host === undefined ? {} : { host: hostOption(what, o.host) }),
  };
}

const PYTHON_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function hostOption(what: string, host: unknown): Readonly<Record<string, HostFunction>> {
  if (host === null || typeof host !== 'object' || Array.isArray(host)) throw invalid(what, 'host must be an object of functions');
  const out: Record<string, HostFunction> = {};
  for (const [name, fn] of Object.entries(host)) {
    if (!PYTHON_IDENTIFIER.test(name) || name.startsWith('__')) {
      throw invalid(what, `host function name '${name}' is not a Python identifier (or starts with __)`);
    }
    if (typeof fn !== 'function') throw invalid(what, `host.${name} must be a function`);
    out[name] = fn as HostFunction;
  }
  return Object.freeze(out);
}

function sameOptions(a: ResolvedGroupOptions, b: ResolvedGroupOptions): boolean {
  const sameHost = Object.keys(a.host ?? {}).length === Object.keys(b.host ?? {}).length &&
    Object.entries(a.host ?? {}).every(([k, fn]) => b.host?.[k] === fn);
  return sameHost && JSON.stringify({ ...a, host: undefined }) === JSON.stringify({ ...b, host: undefined });
}
