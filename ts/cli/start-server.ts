/**
 * `pyhost start-server SCRIPT [options]`: the counterpart of mod_wsgi-express. Embedded mode by
 * default (the application runs in this process); `--processes N` runs daemon mode.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../engine.js';
import { GLOBAL_GROUP } from '../group.js';
import { formatLogRecord, type LogLevel, type LogRecord } from '../logger.js';
import { createRouter, type Route } from '../http/router.js';
import { staticAlias } from '../http/static.js';
import { fromModWsgiUnits } from '../daemon/options.js';
import { CliError, formatHelp, parseArgs, type OptionSpec } from './args.js';
import { isReloaderChild, RELOAD_EXIT_CODE, superviseReloads, watchModules } from './reloader.js';
import { DEFAULT_LISTEN_OPTIONS, listenAll, onTerminate, serverUrl, type Listener, type ListenOptions } from './serve.js';
import { metricsListener, withOpsEndpoints, type OpsPaths } from '../http/ops-endpoints.js';
import { chooseFront, frontUrl, listenCliError, listenNative } from '../front/serve-native.js';
import { openDaemonHttp, type DaemonHttp } from '../front/daemon-front.js';
import { resolveGroupName } from '../http/app-groups.js';
import { movesToGlobal } from '../scheduler/index.js';

export const START_SERVER_OPTIONS: Record<string, OptionSpec> = {
  host: { type: 'string', help: 'interface to listen on (default: all)', metavar: 'HOST' },
  port: { type: 'int', min: 0, max: 65535, help: 'port to listen on (default 8000)' },
  'server-name': { type: 'string', help: 'server name used in %{RESOURCE}/%{SERVER} group names', metavar: 'NAME' },
  threads: { type: 'int', min: 1, max: 512, help: 'worker threads per application group (default 5)' },
  'application-group': { type: 'string', help: 'application group: %{GLOBAL} (default), %{RESOURCE}, %{SERVER} or a name', metavar: 'NAME' },
  gil: { type: 'string', choices: ['shared', 'own'], help: "sub-interpreter GIL: 'shared' or 'own' (3.12+)", metavar: 'shared|own' },
  replicas: { type: 'int', min: 1, max: 256, help: 'serve from N sub-interpreters of the group (own GIL: in parallel)' },
  'mount-point': { type: 'string', help: 'URL prefix of the application (default /)', metavar: 'URL' },
  'url-alias': { type: 'pair', repeat: true, help: 'serve static files from PATH at URL', metavar: 'URL PATH' },
  'callable-object': { type: 'string', help: 'name of the WSGI callable (default application)', metavar: 'NAME' },
  'application-type': { type: 'string', choices: ['script', 'module'], help: "'script' (a file, default) or 'module' (an importable module)", metavar: 'TYPE' },
  'entry-point': { type: 'string', help: "the module (or 'module:callable') for --application-type module", metavar: 'MODULE' },
  python: { type: 'string', help: 'Python executable to run (default: $PYHOST_PYTHON or the default build)', metavar: 'PATH' },
  'python-home': { type: 'string', help: 'venv or prefix of the Python (like WSGIPythonHome)', metavar: 'DIR' },
  'python-path': { type: 'string', repeat: true, help: 'add a directory to sys.path (site.addsitedir; repeatable)', metavar: 'DIR' },
  'working-directory': { type: 'string', help: 'working directory, also on sys.path (default: the script directory)', metavar: 'DIR' },
  'reload-on-changes': { type: 'flag', help: 'restart when a loaded Python module changes' },
  'limit-request-body': { type: 'int', min: 0, help: 'largest request body in bytes (413 past it)', metavar: 'BYTES' },
  'header-timeout': { type: 'float', min: 0, help: 'seconds a client may take to send a request head (408 past it; default 20, 0: none)', metavar: 'SECONDS' },
  'body-timeout': { type: 'float', min: 0, help: 'seconds a request body may stall (408 past it; default 20, 0: none)', metavar: 'SECONDS' },
  'listen-backlog': { type: 'int', min: 1, max: 65535, help: 'pending connections the kernel may queue (default 2048)', metavar: 'N' },
  'keep-alive-timeout': { type: 'float', min: 0, help: 'seconds an idle keep-alive connection stays open (default 5)', metavar: 'SECONDS' },
  'max-keep-alive-requests': { type: 'int', min: 0, help: 'requests per connection, the last one gets Connection: close (default 0: no limit)', metavar: 'N' },
  'queue-timeout': { type: 'float', min: 0, help: 'seconds a request may wait for a worker (503 past it)', metavar: 'SECONDS' },
  'request-timeout': { type: 'float', min: 0, help: 'seconds a request may run (504 past it, stack logged)', metavar: 'SECONDS' },
  'graceful-timeout': { type: 'float', min: 0, help: 'seconds in-flight requests get at shutdown (default 15)', metavar: 'SECONDS' },
  'access-log': { type: 'flag', help: 'log each request (Apache combined format) to stdout' },
  metrics: { type: 'string', help: 'answer Prometheus metrics on this path of the serving port (off by default)', metavar: 'PATH' },
  'metrics-port': { type: 'int', min: 1, max: 65535, help: 'answer Prometheus metrics on a port of its own (127.0.0.1; /health there too)', metavar: 'PORT' },
  health: { type: 'string', help: 'answer 200 on this path while every group can take work, 503 otherwise', metavar: 'PATH' },
  front: { type: 'string', choices: ['native', 'node'], help: "who parses HTTP: 'native' (C++, off the JavaScript thread; the default where the options allow) or 'node' (node:http)", metavar: 'native|node' },
  processes: { type: 'int', min: 1, max: 256, help: 'daemon mode: this many processes (x --threads)' },
  user: { type: 'string', help: 'daemon mode: run the processes as this user (front must be root)', metavar: 'USER' },
  group: { type: 'string', help: 'daemon mode: ... and this group', metavar: 'GROUP' },
  'maximum-requests': { type: 'int', min: 0, help: 'daemon mode: recycle a process after N requests', metavar: 'N' },
  'restart-interval': { type: 'float', min: 0, help: 'daemon mode: recycle a process after this many seconds', metavar: 'SECONDS' },
  'inactivity-timeout': { type: 'float', min: 0, help: 'daemon mode: recycle a process idle this long', metavar: 'SECONDS' },
  'memory-limit': { type: 'int', min: 0, help: 'daemon mode: recycle a process above this RSS', metavar: 'BYTES' },
  'startup-timeout': { type: 'float', min: 0, help: 'daemon mode: seconds a process may take to start', metavar: 'SECONDS' },
  'shutdown-timeout': { type: 'float', min: 0, help: 'daemon mode: seconds a stopping process gets (default 5)', metavar: 'SECONDS' },
  'deadlock-timeout': { type: 'float', min: 0, help: 'daemon mode: restart a process whose GIL is stuck this long (default 300)', metavar: 'SECONDS' },
  'display-name': { type: 'string', help: 'daemon mode: process title of the daemon processes', metavar: 'NAME' },
  lang: { type: 'string', help: 'daemon mode: LANG of the processes', metavar: 'LANG' },
  locale: { type: 'string', help: 'daemon mode: LC_ALL of the processes', metavar: 'LOCALE' },
  'embedded-mode': { type: 'flag', help: 'run embedded even with daemon options' },
  config: { type: 'string', help: 'serve what a mod_wsgi (Apache) configuration file describes', metavar: 'FILE' },
  define: { type: 'string', repeat: true, help: 'with --config: define NAME (like httpd -D NAME)', metavar: 'NAME[=VALUE]' },
  'allow-unenforced': { type: 'flag', help: 'with --config: serve even where pyhost cannot enforce an access restriction (each is logged)' },
  'log-level': { type: 'string', choices: ['debug', 'info', 'warn', 'warning', 'error'], help: 'least level logged (default info)', metavar: 'LEVEL' },
  help: { type: 'flag', help: 'show this help' },
};

const USAGE = 'pyhost start-server [SCRIPT] [options]';
const DAEMON_OPTIONS = [
  'user', 'group', 'maximum-requests', 'restart-interval', 'inactivity-timeout', 'memory-limit', 'startup-timeout',
  'shutdown-timeout', 'deadlock-timeout', 'display-name', 'lang', 'locale',
] as const;

export interface StartServerOptions {
  script?: string;
  o: ReturnType<typeof parseArgs>['options'];
}

function seconds(v: unknown): number {
  return typeof v === 'number' ? Math.round(v * 1000) : 0;
}

/** Seconds given on the command line in milliseconds, or the default. */
function secondsOr(v: unknown, defaultMs: number): number {
  return v === undefined ? defaultMs : seconds(v);
}

const DEFAULT_HEAD_AND_BODY_TIMEOUT_MS = 20_000;

function wantsMetrics(o: ReturnType<typeof parseArgs>['options']): boolean {
  return o.metrics !== undefined || o['metrics-port'] !== undefined;
}

/** --metrics and --health: paths of the serving port answered before any mount. */
function opsPaths(o: ReturnType<typeof parseArgs>['options']): OpsPaths {
  for (const k of ['metrics', 'health'] as const) {
    const v = o[k] as string | undefined;
    if (v !== undefined && !v.startsWith('/')) throw new CliError(`--${k} takes a URL path starting with /, got ${JSON.stringify(v)}`);
  }
  return { metrics: o.metrics as string | undefined, health: o.health as string | undefined };
}

/** The listeners, and --metrics-port's own (on 127.0.0.1: metrics are not for the public). */
function withMetricsPort(o: ReturnType<typeof parseArgs>['options'], engine: Engine, listeners: Listener[]): Listener[] {
  const port = o['metrics-port'] as number | undefined;
  return port === undefined ? listeners : [...listeners, { host: '127.0.0.1', port, handler: metricsListener(engine) }];
}

/** --header-timeout and --listen-backlog for listenAll. */
function listenOptions(o: ReturnType<typeof parseArgs>['options'], notice: (message: string) => void): ListenOptions {
  return {
    headerTimeout: secondsOr(o['header-timeout'], DEFAULT_HEAD_AND_BODY_TIMEOUT_MS),
    listenBacklog: (o['listen-backlog'] as number | undefined) ?? DEFAULT_LISTEN_OPTIONS.listenBacklog,
    keepAliveTimeout: secondsOr(o['keep-alive-timeout'], 5000),
    maxKeepAliveRequests: (o['max-keep-alive-requests'] as number | undefined) ?? 0,
    notice,
  };
}

export async function startServer(argv: string[]): Promise<void> {
  const { options: o, positional } = parseArgs(argv, START_SERVER_OPTIONS);
  if (o.help) {
    process.stdout.write(formatHelp(USAGE, START_SERVER_OPTIONS) + '\n');
    return;
  }
  if (positional.length > 1) throw new CliError(`expected one SCRIPT, got ${positional.length}: ${positional.join(' ')}`);
  if (o.config !== undefined) {
    if (positional.length) throw new CliError('give a SCRIPT or --config FILE, not both');
    await serveConfig(o);
    return;
  }
  if (o['reload-on-changes'] && !isReloaderChild()) {
    superviseReloads();
    return;
  }
  const isModule = o['application-type'] === 'module';
  let script: string | null = null;
  let entryPoint: string | undefined;
  if (isModule) {
    entryPoint = (o['entry-point'] as string | undefined) ?? positional[0];
    if (!entryPoint) throw new CliError('--application-type module needs a module name (--entry-point MODULE)');
  } else {
    if (o['entry-point']) throw new CliError('--entry-point needs --application-type module');
    if (!positional[0]) throw new CliError(`no WSGI script given (usage: ${USAGE})`);
    script = path.resolve(positional[0]);
    if (!fs.existsSync(script)) throw new CliError(`WSGI script ${positional[0]} does not exist`);
    if (!fs.statSync(script).isFile()) throw new CliError(`WSGI script ${positional[0]} is not a file`);
  }
  const level = (o['log-level'] === 'warning' ? 'warn' : (o['log-level'] as LogLevel | undefined)) ?? 'info';
  const workingDirectory = (o['working-directory'] as string | undefined) ?? (script ? path.dirname(script) : process.cwd());
  if (!fs.existsSync(workingDirectory)) throw new CliError(`--working-directory ${workingDirectory} does not exist`);
  const host = (o.host as string | undefined) ?? '0.0.0.0';
  const port = (o.port as number | undefined) ?? 8000;
  const group = (o['application-group'] as string | undefined) ?? GLOBAL_GROUP;
  const threads = (o.threads as number | undefined) ?? 5;
  const gil = o.gil as 'shared' | 'own' | undefined;
  if (gil && group === GLOBAL_GROUP) {
    throw new CliError("--gil applies to sub-interpreters: give --application-group a name (or %{RESOURCE})");
  }

  const daemonOnly = DAEMON_OPTIONS.filter((k) => o[k] !== undefined);
  const daemonMode = !o['embedded-mode'] && o.processes !== undefined;
  if (!daemonMode && daemonOnly.length) {
    throw new CliError(`--${daemonOnly[0]} applies to daemon mode: add --processes N`);
  }
  const logger = (r: LogRecord) => process.stderr.write(formatLogRecord(r) + '\n');
  const metrics = wantsMetrics(o);
  const front = chooseFront(o, (m) => logger({ level: 'info', message: m }));
  const mountPoint = (o['mount-point'] as string | undefined) ?? '/';
  const callable = (o['callable-object'] as string | undefined) ?? 'application';
  const moduleEntry = isModule ? (entryPoint!.includes(':') ? entryPoint : `${entryPoint}:${callable}`) : undefined;
  const engine = daemonMode
    ? await Engine.start({ restrictEmbedded: true, logLevel: level, logger, metrics })
    : await Engine.start({
        python: o.python as string | undefined,
        pythonHome: o['python-home'] as string | undefined,
        pythonPath: (o['python-path'] as string[] | undefined) ?? [],
        home: workingDirectory,
        logLevel: level,
        logger,
        metrics,
      });
  let daemonName: string | undefined;
  let pythonVersion = engine.pythonVersion;
  let daemonHttp: DaemonHttp | undefined;
  if (daemonMode) {
    daemonName = `${(o['server-name'] as string | undefined) ?? 'localhost'}:${port}`;
    if (front === 'native') {
      // The daemon processes accept and parse HTTP on this socket themselves.
      try {
        daemonHttp = await openDaemonHttp({
          host,
          port,
          listenBacklog: listenOptions(o, () => {}).listenBacklog,
          mountPoint,
          app: { target: moduleEntry ?? script!, isModule, callable, reload: false },
          groupName: resolveGroupName(group, { host: '', port: 0, scriptName: mountPoint }),
          gil: gil ?? 'shared',
          strictExtensions: false,  // as asked: only an own GIL makes them strict (the scheduler's rule)
          processGroup: daemonName,
          passAuthorization: false,
          multiprocess: true,
          threads,
          limitRequestBody: (o['limit-request-body'] as number | undefined) ?? 0,
          bodyTimeout: secondsOr(o['body-timeout'], DEFAULT_HEAD_AND_BODY_TIMEOUT_MS),
          headerTimeout: listenOptions(o, () => {}).headerTimeout,
          keepAliveTimeout: listenOptions(o, () => {}).keepAliveTimeout,
          maxKeepAliveRequests: listenOptions(o, () => {}).maxKeepAliveRequests,
          maximumRequests: o['maximum-requests'] as number | undefined,
          fallbackGlobal: movesToGlobal('global'),  // start-server's daemon group keeps the default fallback
          aliases: ((o['url-alias'] as [string, string][] | undefined) ?? []).map(([u, t]) => [u, path.resolve(t)]),
          accessLogFd: o['access-log'] ? 1 : undefined,
        });
      } catch (err) {
        await engine.close();
        throw listenCliError(err, host, port);
      }
    }
    const dg = engine.daemonGroup(daemonName, fromModWsgiUnits(daemonName, {
      ...(daemonHttp ? { nativeHttp: daemonHttp.nativeHttp } : {}),
      processes: o.processes as number,
      threads,
      python: o.python as string | undefined,
      pythonHome: o['python-home'] as string | undefined,
      pythonPath: (o['python-path'] as string[] | undefined) ?? [],
      home: workingDirectory,
      user: o.user as string | undefined,
      group: o.group as string | undefined,
      displayName: o['display-name'] as string | undefined,
      lang: o.lang as string | undefined,
      locale: o.locale as string | undefined,
      maximumRequests: o['maximum-requests'] as number | undefined,
      restartInterval: o['restart-interval'] as number | undefined,
      inactivityTimeout: o['inactivity-timeout'] as number | undefined,
      memoryLimit: o['memory-limit'] as number | undefined,
      startupTimeout: o['startup-timeout'] as number | undefined,
      shutdownTimeout: o['shutdown-timeout'] as number | undefined,
      deadlockTimeout: o['deadlock-timeout'] as number | undefined,
      gracefulTimeout: o['graceful-timeout'] as number | undefined,
    }));
    pythonVersion = dg.settings.pythonVersion;
    try {
      await dg.start();
    } catch (err) {
      daemonHttp?.close();
      await engine.close();
      throw new CliError((err as Error).message);
    }
  }
  const handler = engine.mount(script, {
    processGroup: daemonName,
    mountPoint,
    entryPoint: moduleEntry,
    callable,
    group,
    groupOptions: { threads, ...(gil ? { gil } : {}) },
    serverName: o['server-name'] as string | undefined,
    replicas: o.replicas as number | undefined,
    limitRequestBody: (o['limit-request-body'] as number | undefined) ?? 0,
    bodyTimeout: secondsOr(o['body-timeout'], DEFAULT_HEAD_AND_BODY_TIMEOUT_MS),
    queueTimeout: seconds(o['queue-timeout']),
    requestTimeout: seconds(o['request-timeout']),
    // The native front writes access log lines to stdout itself.
    accessLog: o['access-log'] && front === 'node' ? (line) => process.stdout.write(line + '\n') : undefined,
  });
  const routes: Route[] = [{ prefix: handler.mountPoint, handler }];
  const aliases: [string, string][] = [];
  for (const [url, target] of (o['url-alias'] as [string, string][] | undefined) ?? []) {
    if (!fs.existsSync(target)) throw new CliError(`--url-alias ${url} ${target}: ${target} does not exist`);
    const s = staticAlias(url, target);
    routes.push({ prefix: s.urlPrefix, handler: s });
    aliases.push([url, target]);
  }
  let running;
  let url: string;
  try {
    const listen = listenOptions(o, (m) => engine.logger.info(m));
    if (daemonHttp) {
      running = daemonFrontRunning(engine, daemonHttp);
      url = frontUrl(daemonHttp.address, daemonHttp.port, handler.mountPoint);
    } else if (front === 'native') {
      const native = await listenNative(engine, [{ host, port, routes: [{ prefix: handler.mountPoint, mount: handler }, ...aliases.map(([prefix, staticRoot]) => ({ prefix, staticRoot }))] }], {
        ...listen,
        bodyTimeout: secondsOr(o['body-timeout'], DEFAULT_HEAD_AND_BODY_TIMEOUT_MS),
        accessLogFd: o['access-log'] ? 1 : undefined,
      });
      running = native;
      url = native.url(0, handler.mountPoint);
    } else {
      const node = await listenAll(
        withMetricsPort(o, engine, [{ host, port, handler: withOpsEndpoints(engine, opsPaths(o), createRouter(routes)) }]),
        listen,
      );
      running = node;
      url = serverUrl(node.servers[0], handler.mountPoint);
    }
  } catch (err) {
    await engine.close();
    throw err;
  }
  url = url.replace('//0.0.0.0:', '//localhost:');
  const what = script ?? `module ${entryPoint}`;
  const mode = daemonMode
    ? `daemon mode, ${o.processes} process(es) x ${threads} threads, ${front} front`
    : `embedded mode, ${threads} threads, ${front} front`;
  process.stdout.write(`pyhost: serving ${what} at ${url} (${mode}, Python ${pythonVersion}, application group ${group})\n`);
  const graceMs = o['graceful-timeout'] !== undefined ? seconds(o['graceful-timeout']) : 15000;
  const stop = async () => {
    await running.shutdown(graceMs);
    await engine.close();
  };
  if (daemonMode) {
    process.on('SIGHUP', () => {
      process.stderr.write(formatLogRecord({ level: 'info', message: 'SIGHUP: restarting the daemon processes gracefully' }) + '\n');
      void engine.restartDaemons();
    });
  }
  if (isReloaderChild() && !daemonMode) {
    watchModules(engine.group(group === '%{RESOURCE}' || group === '%{SERVER}' ? GLOBAL_GROUP : group), script ? [script] : [], (file) => {
      process.stderr.write(formatLogRecord({ level: 'info', message: `${file} changed: restarting` }) + '\n');
      void stop().then(() => process.exit(RELOAD_EXIT_CODE));
    });
  }
  onTerminate(async (signal) => {
    process.stderr.write(formatLogRecord({ level: 'info', message: `${signal}: finishing ${running.inflight()} request(s), then stopping` }) + '\n');
    await stop();
  });
}

/** Daemon processes that serve HTTP themselves: requests in flight as they report them; shutdown waits for them. */
function daemonFrontRunning(engine: Engine, http: DaemonHttp): { inflight(): number; shutdown(graceMs: number): Promise<void> } {
  const inflight = () => engine.listDaemonGroups().reduce((n, g) => n + [...g.processes].reduce((m, p) => m + p.busy, 0), 0);
  return {
    inflight,
    async shutdown(graceMs: number) {
      http.close();
      const deadline = Date.now() + graceMs;
      while (inflight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    },
  };
}

const CONFIG_COMPATIBLE = [
  'config', 'define', 'python', 'host', 'access-log', 'log-level', 'graceful-timeout', 'header-timeout', 'body-timeout', 'listen-backlog',
  'keep-alive-timeout', 'max-keep-alive-requests', 'front',
  'allow-unenforced', 'metrics', 'metrics-port', 'health', 'help',
];

/** `start-server --config site.conf`: every virtual host on its port, daemon groups started. */
async function serveConfig(o: ReturnType<typeof parseArgs>['options']): Promise<void> {
  const extra = Object.keys(o).filter((k) => !CONFIG_COMPATIBLE.includes(k));
  if (extra.length) throw new CliError(`--${extra[0]} cannot be combined with --config (the configuration file says it)`);
  chooseFront(o, () => {}); // --front native is refused here: a configuration is served by the Node front
  const { loadConfig } = await import('../config/index.js');
  const { Site } = await import('../site/site.js');
  const { ConfigError } = await import('../errors.js');
  let plan;
  try {
    plan = loadConfig(o.config as string, { defines: (o.define as string[] | undefined) ?? [] });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
  const level = (o['log-level'] === 'warning' ? 'warn' : (o['log-level'] as LogLevel | undefined)) ?? 'info';
  const logger = (r: LogRecord) => process.stderr.write(formatLogRecord(r) + '\n');
  for (const w of plan.warnings) logger({ level: 'warn', message: `${w.file}:${w.line}: ${w.message}` });
  if (plan.ignored.length) logger({ level: 'info', message: `ignored Apache directives: ${plan.ignored.map((i) => i.name).join(', ')}` });
  let site;
  try {
    site = await Site.start(plan, {
      python: o.python as string | undefined,
      logger,
      logLevel: level,
      anyAddress: o.host as string | undefined,
      accessLog: o['access-log'] ? (line) => process.stdout.write(line + '\n') : undefined,
      bodyTimeout: secondsOr(o['body-timeout'], DEFAULT_HEAD_AND_BODY_TIMEOUT_MS),
      allowUnenforced: o['allow-unenforced'] === true,
      metrics: wantsMetrics(o),
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
  let running;
  try {
    const listeners = site.listeners.map((l) => ({ ...l, handler: withOpsEndpoints(site.engine, opsPaths(o), l.handler) }));
    running = await listenAll(withMetricsPort(o, site.engine, listeners), listenOptions(o, (m) => logger({ level: 'info', message: m })));
  } catch (err) {
    await site.close();
    throw err;
  }
  for (const srv of running.servers) {
    process.stdout.write(`pyhost: serving ${plan.file} at ${serverUrl(srv).replace('//0.0.0.0:', '//localhost:')}\n`);
  }
  const graceMs = o['graceful-timeout'] !== undefined ? seconds(o['graceful-timeout']) : 15000;
  process.on('SIGHUP', () => {
    logger({ level: 'info', message: 'SIGHUP: restarting the daemon processes gracefully' });
    void site.engine.restartDaemons();
  });
  onTerminate(async (signal) => {
    logger({ level: 'info', message: `${signal}: finishing ${running.inflight()} request(s), then stopping` });
    await running.shutdown(graceMs);
    await site.close();
  });
}
