/**
 * Mounts: a WSGI application as a Node `(req, res)` handler for `http.createServer`, Express or
 * Fastify. Splits SCRIPT_NAME/PATH_INFO as WSGIScriptAlias does, names application groups as
 * mod_wsgi does, and applies the limits (queue, request body, timeouts).
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { PyhostError } from '../errors.js';
import type { Group, GroupOptions } from '../group.js';
import type { Logger } from '../logger.js';
import { checkKnownKeys, intOption, invalid, stringOption } from '../options.js';
import { combinedLogLine } from './access-log.js';
import { isPerRequestGroup, reportedGroupName, resolveGroupName } from './app-groups.js';
import type { Backend, BackendRequest, Exchange } from './backend.js';
import { canonicalMountPoint, decodePath, normalizePath, normalizeTarget, ORIGINAL_TARGET, splitMount, type TargetRequest } from './paths.js';
import { readRequestFields } from './request-fields.js';
import { onResponseGone } from './response-gone.js';
import { ResponseWriter } from './response-writer.js';
import { NO_EVENTS, type SchedulerEvents } from '../scheduler/events.js';
import { overran, statusForError, TimeoutClock } from '../scheduler/index.js';

/** Options of {@link Engine.mount}. */
export interface MountOptions {
  /** URL prefix the application serves (SCRIPT_NAME), as WSGIScriptAlias's first argument. Default `/`. */
  mountPoint?: string;
  /**
   * Application group: `%{GLOBAL}` (main interpreter), a name, `%{SERVER}`, `%{ENV:NAME}` or
   * `%{RESOURCE}` (default: one group per `host[:port]|script_name`, as mod_wsgi).
   */
  group?: string;
  /** Options for the groups this mount creates (gil, threads, fallback, ...). */
  groupOptions?: GroupOptions;
  /** Name of the WSGI callable in the script (default `application`). */
  callable?: string;
  /** `pkg.module:callable` to import instead of a script file (then pass `null` as script). */
  entryPoint?: string;
  /** Pass the Authorization header to the application (default off, as mod_wsgi). */
  passAuthorization?: boolean;
  /** Reload the script when its modification time changes (WSGIScriptReloading). */
  reload?: boolean;
  /** Import the application at once instead of on the first request (WSGIImportScript). */
  preload?: boolean;
  /** Daemon process group to run the application in (see Engine.daemonGroup). */
  processGroup?: string;
  /** Largest request body accepted, in bytes; more gets 413 (0: no limit). */
  limitRequestBody?: number;
  /**
   * Milliseconds a client may send no body byte while the application waits for more; past it the
   * request gets 408 and the connection closes (0, the default: no limit).
   */
  bodyTimeout?: number;
  /** Milliseconds a request may wait for a worker before it gets 503 (0: no limit). */
  queueTimeout?: number;
  /** Milliseconds a request may run before it gets 504, its stack logged (0: no limit). */
  requestTimeout?: number;
  /** Called with one Apache combined-format line per request. */
  accessLog?: (line: string) => void;
  /** The server name in %{RESOURCE}/%{SERVER} group names (default: the address the request came to). */
  serverName?: string;
  /** The port in group names when the Host header names none (default: the port the request came to). */
  defaultPort?: number;
  /**
   * Serve the application from this many sub-interpreters of its group (each with its own
   * module state), the least busy taking each request: with `gil: 'own'` they run in parallel,
   * like processes, in one process. Not for %{GLOBAL}. Default 1.
   */
  replicas?: number;
  /** Accept chunked request bodies (default true; mod_wsgi's WSGIChunkedRequest is off: 411). */
  chunkedRequest?: boolean;
}

/** A Node request handler serving one WSGI application. */
export interface MountHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** The canonical mount point ('' for the root). */
  readonly mountPoint: string;
  /** Settles when a preloaded application has been imported (rejects if it failed). */
  readonly ready: Promise<void>;
  /** Requests in flight. */
  readonly inflight: number;
  /** Stops the timeout watchdog; requests in flight finish. */
  close(): void;
}

const MOUNT_KEYS = [
  'mountPoint', 'group', 'groupOptions', 'callable', 'entryPoint', 'passAuthorization', 'reload', 'preload',
  'processGroup', 'limitRequestBody', 'bodyTimeout', 'queueTimeout', 'requestTimeout', 'accessLog', 'serverName', 'defaultPort', 'replicas',
  'chunkedRequest',
] as const;

export interface ResolvedMountOptions {
  script: string | undefined;
  mountPoint: string;
  group: string;
  groupOptions: GroupOptions | undefined;
  callable: string;
  entryPoint: string | undefined;
  passAuthorization: boolean;
  reload: boolean;
  preload: boolean;
  processGroup: string | undefined;
  limitRequestBody: number;
  bodyTimeout: number;
  queueTimeout: number;
  requestTimeout: number;
  accessLog: ((line: string) => void) | undefined;
  serverName: string | undefined;
  defaultPort: number | undefined;
  replicas: number;
  chunkedRequest: boolean;
}

export function resolveMountOptions(script: string | null | undefined, options: MountOptions = {}): ResolvedMountOptions {
  const what = 'mount';
  checkKnownKeys(what, options, MOUNT_KEYS);
  const entryPoint = stringOption(what, 'entryPoint', options.entryPoint);
  if (entryPoint && !/^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$/.test(entryPoint)) {
    throw invalid(what, `entryPoint must look like 'package.module:callable', got ${JSON.stringify(entryPoint)}`);
  }
  if (!entryPoint) {
    if (typeof script !== 'string' || script === '') throw invalid(what, 'a WSGI script path (or entryPoint) is required');
    if (!fs.existsSync(script)) {
      throw new PyhostError('ERR_SCRIPT_NOT_FOUND', `mount: WSGI script ${script} does not exist`);
    }
  } else if (script) {
    throw invalid(what, 'give a script path or entryPoint, not both');
  }
  for (const flag of ['passAuthorization', 'reload', 'preload', 'chunkedRequest'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') throw invalid(what, `${flag} must be a boolean`);
  }
  if (options.accessLog !== undefined && typeof options.accessLog !== 'function') throw invalid(what, 'accessLog must be a function');
  const group = stringOption(what, 'group', options.group) ?? '%{RESOURCE}';
  if ((options.replicas ?? 1) > 1 && group === '%{GLOBAL}') {
    throw invalid(what, 'replicas need sub-interpreters: %{GLOBAL} is the one main interpreter');
  }
  if (group.startsWith('%{') && !/^%\{(GLOBAL|SERVER|RESOURCE|HOST|ENV:[^}]+)\}$/.test(group)) {
    throw invalid(what, `group ${group}: expected %{GLOBAL}, %{SERVER}, %{RESOURCE}, %{HOST}, %{ENV:NAME} or a name`);
  }
  return {
    script: script ? path.resolve(script) : undefined,
    mountPoint: canonicalMountPoint(stringOption(what, 'mountPoint', options.mountPoint) ?? '/'),
    group,
    groupOptions: options.groupOptions,
    callable: stringOption(what, 'callable', options.callable) ?? 'application',
    entryPoint,
    passAuthorization: options.passAuthorization ?? false,
    reload: options.reload ?? false,
    preload: options.preload ?? false,
    processGroup: stringOption(what, 'processGroup', options.processGroup),
    limitRequestBody: intOption(what, 'limitRequestBody', options.limitRequestBody, 0, 0, Number.MAX_SAFE_INTEGER),
    bodyTimeout: intOption(what, 'bodyTimeout', options.bodyTimeout, 0, 0, 86_400_000),
    queueTimeout: intOption(what, 'queueTimeout', options.queueTimeout, 0, 0, 86_400_000),
    requestTimeout: intOption(what, 'requestTimeout', options.requestTimeout, 0, 0, 86_400_000),
    accessLog: options.accessLog,
    serverName: stringOption(what, 'serverName', options.serverName),
    defaultPort: options.defaultPort === undefined ? undefined : intOption(what, 'defaultPort', options.defaultPort, 80, 1, 65535),
    replicas: intOption(what, 'replicas', options.replicas, 1, 1, 256),
    chunkedRequest: options.chunkedRequest ?? true,
  };
}

/**
 * A router in front of mounts (the site layer for configuration files) may decide SCRIPT_NAME
 * and PATH_INFO itself (WSGIScriptAliasMatch, Apache's alias rules) and leave them here.
 */
export const ROUTE = Symbol('pyhost.route');
export type RoutedRequest = IncomingMessage & { [ROUTE]?: { scriptName: string; pathInfo: string } };

interface Tracked {
  ex: Exchange;
  br: BackendRequest | undefined;
  started: number;
  /** performance.now() at arrival, for the latency histogram (Date.now() counts whole milliseconds). */
  arrived: number;
  queued: boolean;
  /** When the application started running it (the request timeout counts from there). */
  runningSince: number;
}

/**
 * The port in a group name: mod_wsgi takes the Host header's (no port: the ServerName's, else
 * 80), but a client must not mint interpreters by naming arbitrary ports, so a port other than
 * the one the request came to, 80 or 443 counts as the one it came to. At most two names.
 */
function groupPort(f: { hostHasPort: boolean; hostPort: number; localPort: number }, defaultPort: number | undefined): number {
  if (!f.hostHasPort) return defaultPort ?? 80;
  if (f.hostPort === f.localPort || f.hostPort === 80 || f.hostPort === 443) return f.hostPort;
  return f.localPort;
}

/** Builds the handler. `groupByName` creates or finds engine groups; `backend` runs requests. */
export function createMountHandler(
  opts: ResolvedMountOptions,
  groupByName: (name: string) => Group,
  backend: Backend,
  logger: Logger,
  preload: () => Promise<void>,
  events: SchedulerEvents = NO_EVENTS,
): MountHandler {
  const processGroup = opts.processGroup ?? '';
  const inflight = new Set<Tracked>();
  const bodyLimits = { maxBytes: opts.limitRequestBody, idleTimeout: opts.bodyTimeout };
  const perRequestGroup = isPerRequestGroup(opts.group);
  const fixedGroupName = perRequestGroup ? undefined : resolveGroupName(opts.group, { host: '', port: 0, scriptName: opts.mountPoint });
  const clock = new TimeoutClock([opts.queueTimeout, opts.requestTimeout], () => checkTimeouts());

  function checkTimeouts(): void {
    const now = Date.now();
    for (const t of inflight) {
      if (!t.br) continue;
      const age = now - t.started;
      if (t.queued && overran(t.started, opts.queueTimeout, now)) {
        if (t.br.withdrawIfQueued()) {
          logger.error(`request for ${t.ex.fields.requestUri} waited ${age} ms for a worker (queue timeout ${opts.queueTimeout} ms): 503`, t.ex.groupName);
          events.timedOut(t.ex.groupName, processGroup, 'queue');
          t.ex.writer.fail(503, 'Service Unavailable');
          continue;
        }
        t.queued = false;
      }
      if (opts.requestTimeout > 0 && !t.runningSince && t.br.running()) t.runningSince = now;
      if (overran(t.runningSince, opts.requestTimeout, now) && !t.ex.writer.finished) {
        const br = t.br;
        t.br = undefined; // report once
        t.ex.writer.fail(504, 'Gateway Timeout');
        events.timedOut(t.ex.groupName, processGroup, 'request');
        void br.timedOut().then((stack) => {
          logger.error(
            `request for ${t.ex.fields.requestUri} exceeded the request timeout of ${opts.requestTimeout} ms: 504` +
              (stack ? `; stack of the thread running it:\n${stack.trimEnd()}` : ''),
            t.ex.groupName,
          );
        });
      }
    }
  }

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => {
    if (!(req as RoutedRequest)[ROUTE] && !normalizeTarget(req, res)) return;
    // Express strips its own mount path from req.url and keeps it in req.baseUrl.
    const express = req as IncomingMessage & { baseUrl?: unknown; originalUrl?: string };
    const base = typeof express.baseUrl === 'string' ? express.baseUrl : '';
    const url = req.url ?? '/';
    const fields = readRequestFields(req, express.originalUrl ?? url);
    const original = (req as TargetRequest)[ORIGINAL_TARGET];
    if (original) fields.requestUri = original;
    if (!fields.hostHasPort && opts.defaultPort !== undefined) {
      fields.serverPort = String(opts.defaultPort);
      fields.hostPort = opts.defaultPort;
    }
    const routed = (req as RoutedRequest)[ROUTE];
    const q = url.indexOf('?');
    const decoded = routed ? undefined : decodePath(q < 0 ? url : url.slice(0, q));
    const split = routed ?? (decoded === undefined ? undefined : splitMount(opts.mountPoint, normalizePath(decoded)));
    const writer = new ResponseWriter(res);
    if (!split) {
      if (next) return next();
      writer.fail(404, 'Not Found');
      return;
    }
    const scriptName = base + split.scriptName;
    const groupName =
      fixedGroupName ??
      resolveGroupName(opts.group, {
        // As mod_wsgi, the server's own name, not the client's Host header (which would let any
        // client create interpreters); the port is the one the request came in on.
        host: opts.serverName ?? fields.localAddr,
        port: groupPort(fields, opts.defaultPort),
        scriptName,
        requestHost: fields.serverName,
      });
    const tracked: Tracked = { ex: undefined as unknown as Exchange, br: undefined, started: Date.now(), arrived: performance.now(), queued: true, runningSince: 0 };
    const ex: Exchange = {
      req,
      writer,
      fields,
      scriptName,
      pathInfo: split.pathInfo,
      processGroup: opts.processGroup ?? '',
      applicationGroup: reportedGroupName(groupName),
      groupName,
      passAuthorization: opts.passAuthorization,
      bodyLimits,
      onDone: () => {
        inflight.delete(tracked);
        events.requestDone(groupName, processGroup, writer.status, (performance.now() - tracked.arrived) / 1000);
        if (opts.accessLog) opts.accessLog(combinedLogLine(req, fields.remoteAddr, writer.status, writer.bytesOut, new Date()));
      },
    };
    tracked.ex = ex;
    if (fields.chunked && !opts.chunkedRequest) {
      writer.fail(411, 'Length Required', { Connection: 'close' }); // the body is not read
      if (opts.accessLog) opts.accessLog(combinedLogLine(req, fields.remoteAddr, 411, 0, new Date()));
      return;
    }
    if (opts.limitRequestBody > 0 && fields.contentLength > opts.limitRequestBody) {
      writer.fail(413, 'Request Entity Too Large', { Connection: 'close' }); // the body is not read
      if (opts.accessLog) opts.accessLog(combinedLogLine(req, fields.remoteAddr, 413, 0, new Date()));
      return;
    }
    try {
      tracked.br = backend.submit(ex);
    } catch (err) {
      const code = (err as PyhostError).code;
      const { status, reason } = statusForError(code);
      logger.error(`${fields.method} ${fields.requestUri}: ${(err as Error).message}`, groupName);
      if (status === 503) events.rejected(groupName, processGroup, code === 'ERR_QUEUE_FULL' ? 'queue_full' : 'closed');
      writer.fail(status, reason);
      events.requestDone(groupName, processGroup, status, 0);
      if (opts.accessLog) opts.accessLog(combinedLogLine(req, fields.remoteAddr, status, 0, new Date()));
      return;
    }
    inflight.add(tracked);
    onResponseGone(res, () => {
      if (!writer.finished || !res.writableFinished) tracked.br?.cancel();
    });
  }) as MountHandler;

  const ready = opts.preload ? preload() : Promise.resolve();
  ready.catch(() => {}); // observed by whoever awaits `ready`; logged by the backend
  Object.defineProperties(handler, {
    mountPoint: { value: opts.mountPoint },
    ready: { value: ready },
    inflight: { get: () => inflight.size },
    close: {
      value: () => clock.stop(),
    },
  });
  return handler;
}

