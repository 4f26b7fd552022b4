/**
 * `pyhost start-server` on the native front: which front serves (`--front native|node`, default
 * native where the options allow it), and the native counterpart of the CLI's listenAll (listen,
 * count requests in flight, graceful shutdown).
 */
import type { Engine } from '../engine.js';
import { PyhostError } from '../errors.js';
import { isPerRequestGroup } from '../http/app-groups.js';
import { CliError, type ParsedOptions } from '../cli/args.js';
import { somaxconn } from '../cli/serve.js';
import { NativeFront, type NativeRoute } from './native-front.js';

export type FrontKind = 'native' | 'node';

/** Why these start-server options need the Node front ('' if the native front serves them). */
export function nativeFrontBlocker(o: ParsedOptions): string {
  if (o.config !== undefined) return '--config (virtual hosts, access control and aliases are routed by the Node front)';
  if (o['request-timeout'] !== undefined) return '--request-timeout';
  if (o['queue-timeout'] !== undefined) return '--queue-timeout';
  // Their figures come from the scheduler's events, which fire in JavaScript per request.
  for (const k of ['metrics', 'metrics-port', 'health']) if (o[k] !== undefined) return `--${k}`;
  const group = o['application-group'] as string | undefined;
  if (group && isPerRequestGroup(group)) return `--application-group ${group} (named per request)`;
  return '';
}

/**
 * The front for these options: `--front` if given (an error if native cannot serve them), else
 * native where it can (`notice` says why not otherwise).
 */
export function chooseFront(o: ParsedOptions, notice: (message: string) => void): FrontKind {
  const asked = o.front as FrontKind | undefined;
  const blocker = nativeFrontBlocker(o);
  if (asked === 'native' && blocker) throw new CliError(`--front native cannot serve ${blocker}; use --front node`);
  if (asked) return asked;
  if (blocker) {
    notice(`serving with the Node front: ${blocker} needs it`);
    return 'node';
  }
  return 'native';
}

/** A listen error as the CLI says it (as listenAll does). */
export function listenCliError(err: unknown, host: string, port: number): unknown {
  const code = (err as PyhostError).code;
  if (code === 'EADDRINUSE') return new CliError(`port ${port} on ${host} is already in use`);
  if (code === 'EACCES') return new CliError(`no permission to listen on ${host}:${port}`);
  if (code === 'EADDRNOTAVAIL' || code === 'ERR_LISTEN') return new CliError(`cannot listen on ${host}: address not available`);
  return err;
}

/** http://address:port/mountPoint */
export function frontUrl(address: string, port: number, mountPoint = ''): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}${mountPoint || '/'}`;
}

export interface NativeListener {
  host: string;
  port: number;
  routes: NativeRoute[];
}

export interface NativeListenOptions {
  headerTimeout: number;
  bodyTimeout: number;
  listenBacklog: number;
  keepAliveTimeout?: number;
  maxKeepAliveRequests?: number;
  accessLogFd?: number;
  threads?: number;
  notice(message: string): void;
}

export interface RunningNative {
  fronts: NativeFront[];
  /** http://host:port/ of each listener, with `mountPoint`. */
  url(index: number, mountPoint?: string): string;
  inflight(): number;
  shutdown(graceMs: number): Promise<void>;
}

/** Listens on every listener with the native front; errors are CliErrors as listenAll's. */
export async function listenNative(engine: Engine, listeners: NativeListener[], options: NativeListenOptions): Promise<RunningNative> {
  const cap = somaxconn();
  if (cap !== undefined && options.listenBacklog > cap) {
    options.notice(`listen backlog ${options.listenBacklog} is capped by the kernel at ${cap} (net.core.somaxconn)`);
  }
  const fronts: NativeFront[] = [];
  try {
    for (const l of listeners) {
      fronts.push(
        await NativeFront.start(engine, {
          host: l.host,
          port: l.port,
          routes: l.routes,
          listenBacklog: options.listenBacklog,
          headerTimeout: options.headerTimeout,
          bodyTimeout: options.bodyTimeout,
          keepAliveTimeout: options.keepAliveTimeout,
          maxKeepAliveRequests: options.maxKeepAliveRequests,
          accessLogFd: options.accessLogFd,
          threads: options.threads,
        }).catch((err: PyhostError) => {
          throw listenCliError(err, l.host, l.port);
        }),
      );
    }
  } catch (err) {
    await Promise.all(fronts.map((f) => f.close(0)));
    throw err;
  }
  return {
    fronts,
    url: (i, mountPoint = '') => frontUrl(fronts[i]!.address, fronts[i]!.port, mountPoint),
    inflight: () => fronts.reduce((n, f) => n + f.inflight(), 0),
    async shutdown(graceMs: number) {
      await Promise.all(fronts.map((f) => f.close(graceMs)));
    },
  };
}
