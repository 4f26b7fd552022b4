/**
 * Site: serves what a mod_wsgi configuration file describes (a {@link SitePlan}): an Engine with
 * the plan's embedded Python settings (or none, under WSGIRestrictEmbedded), its daemon process
 * groups, and one request handler per listener that picks the virtual host by address, port and
 * Host header, then the alias or mount.
 */
import { fromModWsgiUnits } from '../daemon/options.js';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Engine } from '../engine.js';
import { ConfigError } from '../errors.js';
import type { Listener, Mount, ServerPlan, SitePlan, VirtualHostPlan } from '../config/plan.js';
import { wildcardToRegExp } from '../config/patterns.js';
import type { LogLevel, LogSink } from '../logger.js';
import { normalizeTarget } from '../http/paths.js';
import { HookRunner } from '../access/hooks.js';
import { AccessGate } from './access-gate.js';
import { ServerRoutes, answerRouteError } from './server-routes.js';

export interface SiteOptions {
  /** Python executable for embedded mode and for daemon groups without `python=`. */
  python?: string;
  logger?: LogSink;
  logLevel?: LogLevel;
  /** Called with one Apache combined-format line per request. */
  accessLog?: (line: string) => void;
  /** Address to bind for `Listen *:port` (default: all interfaces). */
  anyAddress?: string;
  /** Milliseconds a request body may stall before 408 (see MountOptions.bodyTimeout). */
  bodyTimeout?: number;
  /** Count for the engine's metrics (EngineOptions.metrics). */
  metrics?: boolean;
  /**
   * Serve even though the plan has access restrictions pyhost does not enforce
   * (`plan.unenforced`); each is logged once at start. Default false: such a plan is refused.
   */
  allowUnenforced?: boolean;
}

export interface SiteListener {
  /** The address to listen on ('0.0.0.0' for `*`, unless SiteOptions.anyAddress). */
  host: string;
  port: number;
  handler: RequestListener;
}


function hostOf(req: IncomingMessage): string {
  const raw = req.headers.host ?? '';
  const m = /^(\[[^\]]*\]|[^:]*)/.exec(raw);
  return (m ? m[1] : raw).toLowerCase();
}

export class Site {
  private constructor(
    readonly engine: Engine,
    readonly plan: SitePlan,
    readonly listeners: SiteListener[],
    private readonly routes: ServerRoutes[],
    private readonly hooks: HookRunner | undefined,
  ) {}

  /** Starts the engine and daemon groups the plan describes and builds the handlers. */
  static async start(plan: SitePlan, options: SiteOptions = {}): Promise<Site> {
    const unenforced = plan.unenforced ?? [];
    if (unenforced.length && !options.allowUnenforced) {
      const u = unenforced[0]!;
      throw new ConfigError(u.file, u.line, `${u.directive}: ${u.reason}` +
        (unenforced.length > 1 ? ` (and ${unenforced.length - 1} more access restriction(s) pyhost does not enforce)` : '') +
        '; refusing to serve what Apache would protect (allowUnenforced / --allow-unenforced serves it anyway)');
    }
    if (plan.restrictEmbedded) {
      const embedded = allServers(plan).flatMap((srv) => srv.mounts).find((m) => m.settings.processGroup === '');
      if (embedded) {
        throw new ConfigError(embedded.file, embedded.line,
          `${embedded.directive} ${embedded.url} runs embedded (no process group) but WSGIRestrictEmbedded is On: ` +
            'give it a process-group= or a WSGIProcessGroup');
      }
    }
    // CPython reads these when it starts: set before the embedded runtime and the daemons start (mod_wsgi sets them likewise).
    for (const [name, value] of Object.entries(plan.interpreter?.environment ?? {})) process.env[name] = value;
    const optimize = plan.interpreter?.optimize as 0 | 1 | 2 | undefined;
    const engine = await Engine.start({
      python: options.python,
      ...(optimize !== undefined && !plan.restrictEmbedded ? { optimize } : {}),
      pythonHome: plan.restrictEmbedded ? undefined : plan.pythonHome,
      pythonPath: plan.restrictEmbedded ? undefined : [...plan.pythonPath],
      restrictEmbedded: plan.restrictEmbedded,
      logger: options.logger,
      logLevel: options.logLevel,
      metrics: options.metrics,
    });
    let hooks: HookRunner | undefined;
    try {
      if (plan.interpreter?.environment.PYTHONHASHSEED !== undefined && !plan.restrictEmbedded) {
        // As mod_wsgi: the seed is read at start, then the variable goes (not inherited by subprocesses).
        await engine.group('%{GLOBAL}').exec("import os\nos.environ.pop('PYTHONHASHSEED', None)");
      }
      for (const u of unenforced) {
        engine.logger.warn(`${u.file}:${u.line}: ${u.directive}: NOT ENFORCED (--allow-unenforced): ${u.reason}`);
      }
      for (const d of plan.daemonGroups) {
        for (const [option, why] of Object.entries(d.unimplemented)) {
          engine.logger.warn(`${d.file}:${d.line}: WSGIDaemonProcess ${d.name}: ${option} is not implemented (${why})`);
        }
        engine.daemonGroup(d.name, fromModWsgiUnits(d.name, {
          processes: d.processes,
          threads: Math.max(1, d.threads),
          python: d.python ?? options.python,
          pythonHome: d.pythonHome,
          pythonPath: [...d.pythonPath],
          home: d.home,
          user: d.user,
          group: d.group,
          displayName: d.displayName,
          lang: d.lang,
          locale: d.locale,
          maximumRequests: d.maximumRequests,
          restartInterval: d.restartInterval,
          inactivityTimeout: d.inactivityTimeout,
          requestTimeout: d.requestTimeout,
          deadlockTimeout: d.deadlockTimeout,
          gracefulTimeout: d.gracefulTimeout,
          shutdownTimeout: d.shutdownTimeout,
          startupTimeout: d.startupTimeout || undefined,
          queueTimeout: d.queueTimeout,
          ...(optimize !== undefined ? { optimize } : {}),
          ...(Object.keys(plan.interpreter?.environment ?? {}).length ? { environment: { ...plan.interpreter.environment } } : {}),
        }));
      }
      if (allServers(plan).some(usesHooks)) hooks = new HookRunner(engine, (m) => engine.logger.error(m));
      const log = (m: string) => engine.logger.warn(m);
      // A Host header without a port means the ServerName's port, else 80 (Apache's SERVER_PORT).
      const ownGil = plan.perInterpreterGil ? Site.ownGil(engine, plan) : () => false;
      const makeRoutes = (server: ServerPlan) =>
        new ServerRoutes(server, (mount, script, settings) =>
          Site.mountFor(engine, server, server.serverNamePort ?? 80, mount, script, settings, options, ownGil(settings)),
        server.access ? new AccessGate(server.access, hooks, log, !options.allowUnenforced) : undefined);
      const mainRoutes = makeRoutes(plan.mainServer);
      const vhostRoutes = plan.virtualHosts.map((v) => ({ vhost: v, routes: makeRoutes(v) }));
      const all = [mainRoutes, ...vhostRoutes.map((v) => v.routes)];
      for (const r of all) r.prepare();
      for (const imp of plan.importScripts) {
        if (imp.processGroup !== '') {
          engine.logger.warn(`${imp.file}:${imp.line}: WSGIImportScript into daemon group ${imp.processGroup}: loaded on its first request instead`);
          continue;
        }
        const h = engine.mount(imp.script, { group: imp.applicationGroup, preload: true, mountPoint: '/' });
        await h.ready;
      }
      await Promise.all(engine.listDaemonGroups().map((g) => g.start()));
      const listeners = plan.listeners.map((l) => ({
        host: l.address === '*' ? options.anyAddress ?? '0.0.0.0' : l.address,
        port: l.port,
        handler: Site.listenerHandler(l, vhostRoutes, mainRoutes),
      }));
      return new Site(engine, plan, listeners, all, hooks);
    } catch (err) {
      hooks?.close();
      await engine.close();
      throw err;
    }
  }

  /**
   * WSGIPerInterpreterGIL On: whether a mount's sub-interpreters get their own GIL (Python 3.12+;
   * on older Pythons the directive is accepted and has no effect, as in mod_wsgi 6, with a warning).
   */
  private static ownGil(engine: Engine, plan: SitePlan): (settings: Mount['settings']) => boolean {
    const modern = (version: string) => { const [a, b] = version.split('.').map(Number); return a! > 3 || (a === 3 && b! >= 12); };
    const warned = new Set<string>();
    return (settings) => {
      if (settings.applicationGroup === '%{GLOBAL}') return false;
      const pg = settings.processGroup;
      const version = pg ? engine.listDaemonGroups().find((g) => g.name === pg)?.settings.pythonVersion ?? '' : engine.pythonVersion;
      if (modern(version)) return true;
      if (!warned.has(pg)) {
        warned.add(pg);
        engine.logger.warn(`WSGIPerInterpreterGIL On: Python ${version} (${pg ? `daemon group ${pg}` : 'embedded'}) has no per-interpreter GIL (3.12+); its sub-interpreters share the GIL`);
      }
      return false;
    };
  }

  private static mountFor(engine: Engine, server: ServerPlan, port: number | undefined, mount: Mount, script: string,
    settings: Mount['settings'], options: SiteOptions, ownGil: boolean) {
    return engine.mount(script, {
      ...(ownGil ? { groupOptions: { gil: 'own' as const } } : {}),
      mountPoint: '/',
      group: settings.applicationGroup,
      callable: settings.callableObject,
      passAuthorization: settings.passAuthorization,
      reload: settings.scriptReloading,
      processGroup: settings.processGroup || undefined,
      serverName: server.serverName,
      defaultPort: port,
      preload: mount.preload && settings.processGroup === '' && !settings.applicationGroup.startsWith('%{R'),
      chunkedRequest: settings.chunkedRequest,
      accessLog: options.accessLog,
      bodyTimeout: options.bodyTimeout,
    });
  }

  /** The handler for one listener: virtual host by Host header (name-based), else the default. */
  private static listenerHandler(l: Listener, vhosts: { vhost: VirtualHostPlan; routes: ServerRoutes }[], main: ServerRoutes): RequestListener {
    const covering = vhosts.filter(({ vhost }) =>
      vhost.addresses.some((a) => (a.address === '*' || a.address === l.address || l.address === '*') && (a.port === '*' || a.port === l.port)),
    );
    if (covering.length === 0) {
      return (req, res) => {
        if (normalizeTarget(req, res)) Site.serve(main, req, res);
      };
    }
    const names = covering.map(({ vhost, routes }) => ({
      routes,
      names: [vhost.serverName.toLowerCase()],
      aliases: vhost.serverAliases.map((a) => wildcardToRegExp(a.toLowerCase())),
    }));
    return (req, res) => {
      if (!normalizeTarget(req, res)) return;
      const host = hostOf(req);
      const hit = names.find((n) => n.names.includes(host) || n.aliases.some((re) => re.test(host)));
      Site.serve((hit ?? names[0]).routes, req, res);
    };
  }

  private static serve(routes: ServerRoutes, req: IncomingMessage, res: ServerResponse): void {
    try {
      routes.handle(req, res);
    } catch (err) {
      answerRouteError(res, err);
    }
  }

  /** Stops the mounts, the daemon groups and the engine. */
  async close(): Promise<void> {
    for (const r of this.routes) for (const h of r.handlers()) h.close();
    await this.engine.close();
    this.hooks?.close();
  }
}

/** Whether a server's sections name an auth hook (WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript). */
function usesHooks(server: ServerPlan): boolean {
  return (server.access?.layers ?? []).some((l) => l.access.accessScript || l.access.authUserScript || l.access.authGroupScript);
}

function allServers(plan: SitePlan): ServerPlan[] {
  return [plan.mainServer, ...plan.virtualHosts];
}
