/**
 * Connect burst: N clients connect at the same instant, each sends one request and reads the
 * whole answer. A listen backlog too small for the burst shows as connections that wait for the
 * kernel's SYN retransmission (1 s, 3 s, ...) or time out.
 *
 *   node --import tsx bench/stress/connect-burst.ts --port 8000 [--connections 1000] [--rounds 5]
 *        [--path /] [--expect-body ok] [--timeout 10]
 *
 * Prints one line per round and exits 1 if any request was not answered in full.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';

export interface BurstOptions {
  port: number;
  host?: string;
  connections: number;
  path?: string;
  /** When set, each body must be exactly this. */
  expectBody?: string;
  /** Milliseconds a connection may take in all (default 10,000). */
  timeoutMs?: number;
}

export interface BurstResult {
  answered: number;
  /** What went wrong, one entry per failed connection ("timeout", "status 503", ...). */
  failures: string[];
  /** Milliseconds from the burst's start to each connection's 'connect', sorted. */
  connectMs: number[];
  slowestMs: number;
}

function oneRequest(o: Required<Omit<BurstOptions, 'expectBody'>> & { expectBody?: string }, t0: number): Promise<{ ok: boolean; why?: string; connectMs: number }> {
  return new Promise((resolve) => {
    const socket = net.connect(o.port, o.host);
    const chunks: Buffer[] = [];
    let connectMs = -1;
    let settled = false;
    const finish = (ok: boolean, why?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok, why, connectMs });
    };
    const timer = setTimeout(() => finish(false, connectMs < 0 ? 'timeout before connect' : 'timeout'), o.timeoutMs);
    socket.on('connect', () => {
      connectMs = performance.now() - t0;
      socket.write(`GET ${o.path} HTTP/1.1\r\nHost: burst\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!m) return finish(false, text ? 'malformed response' : 'closed without a response');
      if (m[1] !== '200') return finish(false, `status ${m[1]}`);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      if (o.expectBody !== undefined && body !== o.expectBody) return finish(false, `body ${JSON.stringify(body.slice(0, 40))}`);
      finish(true);
    });
  });
}

/** One burst: every connection is opened in the same turn of the event loop. */
export async function runConnectBurst(options: BurstOptions): Promise<BurstResult> {
  const o = { host: '127.0.0.1', path: '/', timeoutMs: 10_000, ...options };
  const t0 = performance.now();
  const all = await Promise.all(Array.from({ length: o.connections }, () => oneRequest(o, t0)));
  const connectMs = all.map((r) => r.connectMs).filter((ms) => ms >= 0).sort((a, b) => a - b);
  return {
    answered: all.filter((r) => r.ok).length,
    failures: all.filter((r) => !r.ok).map((r) => r.why ?? 'failed'),
    connectMs,
    slowestMs: Math.round(connectMs.at(-1) ?? 0),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      connections: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '5' },
      path: { type: 'string', default: '/' },
      'expect-body': { type: 'string' },
      timeout: { type: 'string', default: '10' },
    },
  });
  if (!values.port) throw new Error('--port is required');
  let failed = 0;
  for (let round = 1; round <= Number(values.rounds); round++) {
    const r = await runConnectBurst({
      port: Number(values.port),
      host: values.host,
      connections: Number(values.connections),
      path: values.path,
      expectBody: values['expect-body'],
      timeoutMs: Number(values.timeout) * 1000,
    });
    const late = r.connectMs.filter((ms) => ms >= 900).length;
    const kinds = new Map<string, number>();
    for (const f of r.failures) kinds.set(f, (kinds.get(f) ?? 0) + 1);
    console.log(
      `round ${round}: ${r.answered}/${values.connections} answered, ${late} connect(s) >= 900 ms, slowest connect ${r.slowestMs} ms` +
        (kinds.size ? `; failures: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}` : ''),
    );
    failed += r.failures.length;
    await new Promise((res) => setTimeout(res, 500));
  }
  process.exitCode = failed ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
