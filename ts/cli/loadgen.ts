/**
 * A small HTTP load generator for `pyhost bench` when wrk is not installed: N keep-alive
 * connections requesting one URL in a loop for a duration. Run as a child process (so it does not
 * share the server's event loop); prints one JSON line {requests, errors, p50, p99, rps}.
 *
 *   node loadgen.js URL CONNECTIONS SECONDS
 */
import http from 'node:http';

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

export async function generateLoad(url: string, connections: number, seconds: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.get(url, { agent }, (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          if (res.statusCode !== 200) errors++;
          latencies.push(performance.now() - t0);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) await one();
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { requests: latencies.length, errors, rps: latencies.length / ((Date.now() - started) / 1000), p50: at(0.5), p99: at(0.99) };
}

if (process.argv[1] && /loadgen\.(js|ts)$/.test(process.argv[1])) {
  const [url, c, s] = process.argv.slice(2);
  generateLoad(url, Number(c), Number(s)).then((r) => process.stdout.write(JSON.stringify(r) + '\n'));
}
