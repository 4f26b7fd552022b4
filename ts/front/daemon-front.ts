/**
 * Daemon mode on the native front: when a server routes everything to one daemon process group
 * (`pyhost start-server APP --processes N`), the daemon processes accept and parse HTTP on one
 * listening socket themselves, as uWSGI and gunicorn workers do; Node only supervises them
 * (spawn, restart, recycle, signals) and never sees a request. This module opens the socket and
 * writes the processes' options (csrc/http/text_options.h).
 */
import { PyhostError } from '../errors.js';
import { GLOBAL_GROUP } from '../group.js';
import { canonicalMountPoint } from '../http/paths.js';
import { TYPES } from '../http/static.js';
import type { DaemonNativeHttp } from '../daemon/options.js';
import { loadFront } from '../native/front.js';
import { isStrict } from '../scheduler/index.js';
import { numericHost, openListenSocket, type NativeFrontAddon } from './native-front.js';

export interface DaemonHttpSpec {
  host: string;
  port: number;
  listenBacklog: number;
  mountPoint: string;
  app: { target: string; isModule: boolean; callable: string; reload: boolean };
  /** The engine group name inside the processes (`%{GLOBAL}`: the main interpreter). */
  groupName: string;
  gil: 'shared' | 'own';
  /** Strict extension checks asked for (an own GIL implies them anyway: ts/scheduler/extensions.ts). */
  strictExtensions: boolean;
  processGroup: string;
  passAuthorization: boolean;
  multiprocess: boolean;
  threads: number;
  limitRequestBody: number;
  bodyTimeout: number;
  headerTimeout: number;
  keepAliveTimeout?: number;
  maxKeepAliveRequests?: number;
  /** Requests a process serves before it is replaced (0: no limit). */
  maximumRequests?: number;
  fallbackGlobal: boolean;
  /** `--url-alias URL DIR` pairs. */
  aliases: [string, string][];
  /** Access log lines to this descriptor (e.g. 1, stdout), if any. */
  accessLogFd?: number;
}

export interface DaemonHttp {
  /** For DaemonGroupOptions.nativeHttp. */
  readonly nativeHttp: DaemonNativeHttp;
  readonly address: string;
  readonly port: number;
  /** Closes the supervisor's copy of the listening socket (the processes keep theirs until they stop). */
  close(): void;
}

/** A value of the options file: one line, no tab (fields are tab-separated). */
function field(what: string, v: string): string {
  if (/[\n\r\t]/.test(v)) throw new PyhostError('ERR_INVALID_OPTION', `${what} ${JSON.stringify(v)}: a newline or tab cannot be passed to the daemon processes`);
  return v;
}

/** The processes' options file (csrc/http/text_options.h). */
export function daemonHttpConfig(spec: DaemonHttpSpec): string {
  const flag = (b: boolean) => (b ? '1' : '0');
  const main = spec.groupName === GLOBAL_GROUP;
  const kind = main ? 'main' : spec.gil;
  const lines = [
    'listen_fd 3',
    ...(spec.accessLogFd !== undefined ? ['access_log_fd 4'] : []),
    `threads ${spec.threads}`,
    // One connection per wake-up: the processes sharing the socket take turns.
    'accept_batch 1',
    `header_timeout ${spec.headerTimeout}`,
    `body_timeout ${spec.bodyTimeout}`,
    `keepalive_timeout ${spec.keepAliveTimeout ?? 5000}`,
    `max_keepalive_requests ${spec.maxKeepAliveRequests ?? 0}`,
    `max_requests ${spec.maximumRequests ?? 0}`,
    // A serving thread replaces a listener computing without a GIL, unless sibling processes keep
    // the other cores busy: there a second thread only contends (2 x 8 on 2 cores, 64 KiB: 8%
    // fewer requests/s with it on).
    `replace_gil_free_listener ${flag(!spec.multiprocess)}`,
    'app',
    `app.target ${field('the application', spec.app.target)}`,
    `app.callable ${field('the callable', spec.app.callable)}`,
    `app.module ${flag(spec.app.isModule)}`,
    `app.reload ${flag(spec.app.reload)}`,
    `app.group ${field('the application group', spec.groupName)}\t${kind}\t${flag(isStrict(kind, spec.strictExtensions ? 'strict' : undefined))}`,
    `app.process_group ${field('the process group', spec.processGroup)}`,
    `app.application_group ${main ? '' : spec.groupName}`,
    `app.pass_authorization ${flag(spec.passAuthorization)}`,
    `app.multiprocess ${flag(spec.multiprocess)}`,
    `app.multithread ${flag(spec.threads > 1)}`,
    `app.limit_request_body ${spec.limitRequestBody}`,
    `app.body_timeout ${spec.bodyTimeout}`,
    'app.chunked_request 1',
    `app.fallback_global ${flag(spec.fallbackGlobal)}`,
  ];
  // Longest prefix first, as the Node front's router resolves them.
  const routes: [string, string][] = [
    [canonicalMountPoint(spec.mountPoint), 'route'],
    ...spec.aliases.map(([url]): [string, string] => [canonicalMountPoint(url), 'static']),
  ];
  const targets = new Map(spec.aliases.map(([url, dir]) => [canonicalMountPoint(url), dir]));
  routes.sort((a, b) => b[0].length - a[0].length);
  for (const [prefix, kind] of routes) {
    lines.push(kind === 'route' ? `route ${field('the mount point', prefix)}\t0` : `static ${field('the alias', prefix)}\t${field('the alias directory', targets.get(prefix)!)}`);
  }
  for (const [ext, type] of Object.entries(TYPES)) lines.push(`content_type ${ext}\t${type}`);
  return lines.join('\n') + '\n';
}

/** Opens the listening socket the daemon processes will share, and their options. */
export async function openDaemonHttp(spec: DaemonHttpSpec): Promise<DaemonHttp> {
  const addon = loadFront() as unknown as NativeFrontAddon;
  const config = daemonHttpConfig(spec);
  const host = await numericHost(spec.host);
  const listening = openListenSocket(addon, host, spec.port, spec.listenBacklog);
  let closed = false;
  return {
    nativeHttp: { listenFd: listening.fd, accessLogFd: spec.accessLogFd, config },
    address: host,
    port: listening.port,
    close: () => {
      if (closed) return;
      closed = true;
      addon.closeSocket(listening.fd);
    },
  };
}
