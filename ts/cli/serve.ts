/**
 * Server lifecycle for the CLI: listen (a port in use is a clear error), count in-flight
 * requests, and shut down gracefully on SIGINT/SIGTERM: stop accepting, let requests finish within
 * the graceful timeout, then close the engine.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CliError } from './args.js';

export interface Listener {
  host: string;
  port: number;
  handler: http.RequestListener;
}

export interface RunningServers {
  servers: http.Server[];
  /** Requests not yet answered. */
  inflight(): number;
  /** Stops accepting, waits for in-flight requests up to `graceMs`, then drops connections. */
  shutdown(graceMs: number): Promise<void>;
}

export async function listenAll(listeners: Listener[]): Promise<RunningServers> {
  let inflight = 0;
  const servers: http.Server[] = [];
  for (const l of listeners) {
    const server = http.createServer((req, res) => {
      inflight++;
      res.once('close', () => inflight--);
      l.handler(req, res);
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') reject(new CliError(`port ${l.port} on ${l.host} is already in use`));
        else if (err.code === 'EACCES') reject(new CliError(`no permission to listen on ${l.host}:${l.port}`));
        else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new CliError(`cannot listen on ${l.host}: address not available`));
        else reject(err);
      });
      server.listen(l.port, l.host, () => resolve());
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
