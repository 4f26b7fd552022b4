/**
 * Server lifecycle for the CLI: listen (a port in use is a clear error), count in-flight
 * requests, and shut down gracefully on SIGINT/SIGTERM: stop accepting, let requests finish within
 * the graceful timeout, then close the engine.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { guardRequestLines } from '../http/request-line-guard.js';
import { onResponseGone } from '../http/response-gone.js';
import { CliError } from './args.js';

export interface Listener {
  host: string;
  port: number;
  handler: http.RequestListener;
}

/** How the CLI's servers treat connections (Apache's RequestReadTimeout and ListenBacklog). */
export interface ListenOptions {
  /** Milliseconds a client may take to send a request's head; 408 past it (0: no limit). */
  headerTimeout: number;
  /** Pending connections the kernel may queue (listen(2)'s backlog). */
  listenBacklog: number;
  /** Milliseconds an idle keep-alive connection stays open (default 5000). */
  keepAliveTimeout?: number;
  /** Requests per connection, the last one answered with `Connection: close` (0, default: no limit). */
  maxKeepAliveRequests?: number;
  /** Told once when the kernel caps the backlog (net.core.somaxconn). */
  notice(message: string): void;
}

export const DEFAULT_LISTEN_OPTIONS: ListenOptions = { headerTimeout: 20_000, listenBacklog: 2048, notice: () => {} };

export interface RunningServers {
  servers: http.Server[];
  /** Requests not yet answered. */
  inflight(): number;
  /** Stops accepting, waits for in-flight requests up to `graceMs`, then drops connections. */
  shutdown(graceMs: number): Promise<void>;
}

/** The kernel's cap on a listen backlog, if it can be read. */
export function somaxconn(): number | undefined {
  try {
    return Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

export async function listenAll(listeners: Listener[], options: ListenOptions = DEFAULT_LISTEN_OPTIONS): Promise<RunningServers> {
  let inflight = 0;
  const servers: http.Server[] = [];
  const cap = somaxconn();
  if (cap !== undefined && options.listenBacklog > cap) {
    options.notice(`listen backlog ${options.listenBacklog} is capped by the kernel at ${cap} (net.core.somaxconn)`);
  }
  const headerTimeout = options.headerTimeout;
  for (const l of listeners) {
    const server = http.createServer(
      {
        // Node checks head timeouts every connectionsCheckingInterval: a tenth of the limit keeps
        // the 408 within 10% of it. A whole request has no time limit (Node's default is 300 s,
        // which would cut long uploads): the mounts' body timeout bounds a stalled body instead.
        headersTimeout: headerTimeout,
        requestTimeout: 0,
        connectionsCheckingInterval: headerTimeout > 0 ? Math.max(100, Math.min(30_000, Math.floor(headerTimeout / 10))) : 30_000,
      },
      (req, res) => {
        inflight++;
        onResponseGone(res, () => inflight--);
        l.handler(req, res);
      },
    );
    server.keepAliveTimeout = options.keepAliveTimeout ?? 5000;
    if (options.maxKeepAliveRequests) server.maxRequestsPerSocket = options.maxKeepAliveRequests;
    guardRequestLines(server, headerTimeout);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') reject(new CliError(`port ${l.port} on ${l.host} is already in use`));
        else if (err.code === 'EACCES') reject(new CliError(`no permission to listen on ${l.host}:${l.port}`));
        else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new CliError(`cannot listen on ${l.host}: address not available`));
        else reject(err);
      });
      server.listen({ port: l.port, host: l.host, backlog: options.listenBacklog }, () => resolve());
    }).catch(async (err) => {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      throw err;
    });
    servers.push(server);
  }
  return {
    servers,
    inflight: () => inflight,
    async shutdown(graceMs: number) {
      for (const s of servers) {
        s.close();
        s.closeIdleConnections();
      }
      const deadline = Date.now() + graceMs;
      while (inflight > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        for (const s of servers) s.closeIdleConnections();
      }
      for (const s of servers) s.closeAllConnections();
    },
  };
}

export function serverUrl(server: http.Server, mountPoint = ''): string {
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `http://${host}:${a.port}${mountPoint || '/'}`;
}

/** Runs `onSignal` once on SIGINT/SIGTERM (a second signal exits at once). */
export function onTerminate(onSignal: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    onSignal(signal).then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`pyhost: error while shutting down: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}
