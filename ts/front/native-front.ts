/**
 * The native HTTP front (csrc/http): connections accepted and HTTP/1.1 parsed in C++ off the
 * JavaScript thread, each request run by the thread that parsed it in its application's group,
 * the response written from there; no JavaScript per request. This module is its Node side:
 * it decides (routes, groups, limits, timeouts, threads), validates, and hands the native server
 * one plain options object; then it only asks for stats and stops it.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import type { Engine } from '../engine.js';
import { PyhostError } from '../errors.js';
import type { MountHandler } from '../http/mount.js';
import { canonicalMountPoint } from '../http/paths.js';
import { TYPES } from '../http/static.js';
import type { NativeGroupHandle } from '../native/types.js';
import { nativePlanOf } from './native-plan.js';

/** A URL prefix served by a mount, or by a directory of static files (`--url-alias`). */
export type NativeRoute = { prefix: string; mount: MountHandler } | { prefix: string; staticRoot: string };

export interface NativeFrontOptions {
  host: string;
  port: number;
  /** listen(2)'s backlog. */
  listenBacklog: number;
  routes: NativeRoute[];
  /** Milliseconds a client may take to send a request head: 408 past it (0: no limit). */
  headerTimeout: number;
  /** Milliseconds a body left unread by the application may stall while it is skipped. */
  bodyTimeout?: number;
  /** Milliseconds an idle keep-alive connection stays open (Node's default: 5000). */
  keepAliveTimeout?: number;
  /** Requests per connection; the last one gets `Connection: close` (0: no limit). */
  maxKeepAliveRequests?: number;
  /** Serving threads (default: the most worker threads of the mounts' groups). */
  threads?: number;
  /** Apache combined-format access log lines go to this descriptor (e.g. 1, stdout). */
  accessLogFd?: number;
}

export interface NativeServerStats {
  requests: number;
  inflight: number;
  connections: number;
}

interface NativeHttpServer {
  stats(): NativeServerStats;
  stopAccepting(): void;
  shutdown(timeoutMs: number): Promise<boolean>;
}

/** What the addons add for the native front (csrc/addon/http_server_binding.cc, csrc/napi/listen_binding.cc). */
export interface NativeFrontAddon {
  listenSocket(host: string, port: number, backlog: number): { fd: number; port: number };
  closeSocket(fd: number): void;
  HttpServer?: new (options: object) => NativeHttpServer;
}

/** Why a mount cannot be served natively ('' when it can). */
export function nativeUnsupported(handler: MountHandler): string {
  const plan = nativePlanOf(handler);
  return plan ? plan.unsupported : 'not a mount made by engine.mount()';
}

/** A numeric address for `host` (the native side binds numeric addresses only). */
export async function numericHost(host: string): Promise<string> {
  if (net.isIP(host)) return host;
  try {
    return (await dns.lookup(host)).address;
  } catch {
    throw new PyhostError('ERR_LISTEN', `cannot listen on ${host}: address not available`);
  }
}

/** Opens the listening socket; errors are PyhostErrors with the errno name as `code`. */
export function openListenSocket(addon: NativeFrontAddon, host: string, port: number, backlog: number): { fd: number; port: number } {
  try {
    return addon.listenSocket(host, port, backlog);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'ERR_LISTEN';
    throw new PyhostError(code, (err as Error).message);
  }
}

export class NativeFront {
  private closed: Promise<boolean> | undefined;

  private constructor(
    private readonly server: NativeHttpServer,
    /** The address and port listened on (the port the kernel chose for port 0). */
    readonly address: string,
    readonly port: number,
  ) {}

  /** Listens and starts serving. Every mount must be one the native front supports. */
  static async start(engine: Engine, options: NativeFrontOptions): Promise<NativeFront> {
    const addon = engine.native as unknown as NativeFrontAddon;
    if (!addon.HttpServer) throw new PyhostError('ERR_NATIVE_FRONT', 'this build has no native HTTP front (rebuild pyhost)');
    const apps: object[] = [];
    const routes: { prefix: string; app?: number; staticRoot?: string }[] = [];
    let threads = 1;
    let parallel = false;
    for (const r of options.routes) {
      const prefix = canonicalMountPoint(r.prefix);
      if ('staticRoot' in r) {
        routes.push({ prefix, staticRoot: r.staticRoot });
        continue;
      }
      const plan = nativePlanOf(r.mount);
      if (!plan || plan.unsupported) {
        throw new PyhostError('ERR_NATIVE_FRONT', `the native front cannot serve ${prefix || '/'}: ${plan?.unsupported ?? 'not a mount made by engine.mount()'}`);
      }
      const groups = plan.groups();
      threads = Math.max(threads, plan.threads);
      parallel = parallel || plan.parallel;
      routes.push({ prefix, app: apps.length });
      apps.push({
        ...plan.app,
        groups: groups.map((g): NativeGroupHandle => g.native),
        processGroup: plan.processGroup,
        applicationGroup: plan.applicationGroup,
        passAuthorization: plan.passAuthorization,
        multiprocess: false,
        multithread: groups[0]!.options.threads > 1,
        limitRequestBody: plan.limitRequestBody,
        bodyTimeout: plan.bodyTimeout,
        chunkedRequest: plan.chunkedRequest,
        fallbackGlobal: plan.fallbackGlobal,
      });
    }
    // Longest prefix first, as the Node front's router resolves them.
    routes.sort((a, b) => b.prefix.length - a.prefix.length);
    const host = await numericHost(options.host);
    const listening = openListenSocket(addon, host, options.port, options.listenBacklog);
    let server: NativeHttpServer;
    try {
      server = new addon.HttpServer({
        listenFds: [listening.fd],
        apps,
        routes,
        contentTypes: TYPES,
        threads: options.threads ?? threads,
        eager: parallel,
        acceptBatch: 16,
        headerTimeout: options.headerTimeout,
        bodyTimeout: options.bodyTimeout ?? 20_000,
        keepAliveTimeout: options.keepAliveTimeout ?? 5000,
        maxKeepAliveRequests: options.maxKeepAliveRequests ?? 0,
        accessLogFd: options.accessLogFd ?? -1,
        logGroup: 'native front',
      });
    } catch (err) {
      addon.closeSocket(listening.fd);
      throw err;
    }
    const front = new NativeFront(server, host, listening.port);
    registerFront(engine, front);
    return front;
  }

  stats(): NativeServerStats {
    return this.server.stats();
  }

  /** Requests being served now. */
  inflight(): number {
    return this.server.stats().inflight;
  }

  /**
   * Stops accepting, waits for requests in flight up to `graceMs`, then cuts what is left and
   * ends the serving threads. Resolves false if a thread was still running Python after that.
   */
  close(graceMs = 0): Promise<boolean> {
    if (!this.closed) {
      this.closed = (async () => {
        this.server.stopAccepting();
        const deadline = Date.now() + graceMs;
        while (this.inflight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        return this.server.shutdown(2000);
      })();
    }
    return this.closed;
  }
}

const fronts = new WeakMap<Engine, Set<NativeFront>>();

function registerFront(engine: Engine, front: NativeFront): void {
  let set = fronts.get(engine);
  if (!set) fronts.set(engine, (set = new Set()));
  set.add(front);
}

/** @internal Engine.close: the native fronts stop before the groups their threads run in. */
export async function closeNativeFronts(engine: Engine): Promise<void> {
  const set = fronts.get(engine);
  if (!set) return;
  fronts.delete(engine);
  await Promise.all([...set].map((f) => f.close(0)));
}
