/**
 * HTTP load with wrk: `wrk -t2 -c32 -d10s --latency --timeout 30s -s check.lua URL -- ...`.
 *
 * check.lua compares every response with the scenario's exact expected status and body and prints
 * machine-readable summary lines; the human output (Requests/sec, Latency Distribution, Socket
 * errors, Non-2xx) is parsed too. `problems()` lists everything that makes a measurement invalid:
 * any socket error or timeout, any non-2xx status, any body mismatch, or no check at all.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onInterrupt, run } from '../lib/proc.js';
import type { Scenario } from '../lib/scenarios.js';

export const CHECK_LUA = path.join(path.dirname(fileURLToPath(import.meta.url)), 'check.lua');

export interface WrkOptions {
  url: string;
  scenario: Scenario;
  connections: number;
  threads: number;
  durationSec: number;
  /** wrk's per-request timeout; generous, so a slow-but-correct server is not an error. */
  timeoutSec?: number;
  wrkBinary?: string;
}

export interface LatencyMs {
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  stdev: number;
}

export interface WrkResult {
  command: string;
  exitCode: number;
  requests: number;
  durationSec: number;
  requestsPerSec: number;
  bytesRead: number;
  latencyMs: LatencyMs;
  errors: { connect: number; read: number; write: number; timeout: number; non2xx: number };
  check: { ran: boolean; checked: number; mismatches: number; badStatus: number; badLength: number; badBytes: number; firstBad?: string };
  /** wrk's full output. */
  output: string;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000 };

function kv(line: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!line) return out;
  for (const m of line.matchAll(/(\w+)=([\d.]+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Parse wrk's output (text and check.lua's lines). Exported for tests. */
export function parseWrkOutput(output: string, exitCode: number, command: string): WrkResult {
  const textLatency: Partial<Record<'50' | '75' | '90' | '99', number>> = {};
  for (const m of output.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$/gm)) {
    textLatency[m[1] as '50'] = Number(m[2]) * UNIT_MS[m[3]!]!;
  }
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const checkLine = /^PYHOST_BENCH_CHECK (.*)$/m.exec(output)?.[1];
  const stats = kv(/^PYHOST_BENCH_STATS (.*)$/m.exec(output)?.[1]);
  const check = kv(checkLine);
  const firstBad = /^PYHOST_BENCH_FIRST_BAD (.*)$/m.exec(output)?.[1];

  const us = (k: string, fallback?: number) => (stats[k] !== undefined ? stats[k]! / 1000 : (fallback ?? NaN));
  const durationSec = stats.duration_us !== undefined ? stats.duration_us / 1e6 : NaN;
  const requests = stats.requests ?? Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN);
  return {
    command,
    exitCode,
    requests,
    durationSec,
    requestsPerSec: rps ? Number(rps[1]) : requests / durationSec,
    bytesRead: stats.bytes ?? NaN,
    latencyMs: {
      p50: us('p50_us', textLatency['50']),
      p75: us('p75_us', textLatency['75']),
      p90: us('p90_us', textLatency['90']),
      p99: us('p99_us', textLatency['99']),
      max: us('max_us'),
      mean: us('mean_us'),
      stdev: us('stdev_us'),
    },
    errors: {
      connect: sock ? Number(sock[1]) : (stats.connect ?? 0),
      read: sock ? Number(sock[2]) : (stats.read ?? 0),
      write: sock ? Number(sock[3]) : (stats.write ?? 0),
      timeout: sock ? Number(sock[4]) : (stats.timeout ?? 0),
      non2xx: non2xx ? Number(non2xx[1]) : 0,
    },
    check: {
      ran: checkLine !== undefined,
      checked: check.checked ?? 0,
      mismatches: check.mismatches ?? 0,
      badStatus: check.bad_status ?? 0,
      badLength: check.bad_length ?? 0,
      badBytes: check.bad_bytes ?? 0,
      ...(firstBad ? { firstBad } : {}),
    },
    output,
  };
}

/** Everything that makes a wrk run invalid; empty when the run counts. */
export function problems(r: WrkResult): string[] {
  const p: string[] = [];
  if (r.exitCode !== 0) p.push(`wrk exited with code ${r.exitCode}`);
  if (!r.check.ran) p.push('check.lua did not report (no response validation happened)');
  if (!(r.requests > 0)) p.push('no request completed');
  else if (r.check.ran && r.check.checked === 0) p.push('no response was checked');
  if (r.check.mismatches > 0) {
    p.push(
      `${r.check.mismatches} of ${r.check.checked} responses were wrong ` +
        `(status ${r.check.badStatus}, length ${r.check.badLength}, bytes ${r.check.badBytes}); first: ${r.check.firstBad ?? '?'}`,
    );
  }
  const e = r.errors;
  if (e.connect + e.read + e.write + e.timeout > 0) p.push(`socket errors: connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}`);
  if (e.non2xx > 0) p.push(`${e.non2xx} non-2xx/3xx responses`);
  return p;
}

/** Run wrk once against `url` with the scenario's checks. Never rejects on a bad server: see problems(). */
export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const s = opts.scenario;
  if (!s.files) throw new Error(`scenario ${s.id} was not prepared (no expected-body file)`);
  const threads = Math.max(1, Math.min(opts.threads, opts.connections));
  const args = [
    `-t${threads}`,
    `-c${opts.connections}`,
    `-d${opts.durationSec}s`,
    `--timeout`,
    `${opts.timeoutSec ?? 30}s`,
    '--latency',
    '-s',
    CHECK_LUA,
    opts.url.replace(/\/?$/, s.path),
    '--',
    String(s.expected.status),
    s.files.expectedBody,
    s.method,
    s.files.requestBody ?? '-',
    s.requestContentType ?? '-',
  ];
  const bin = opts.wrkBinary ?? 'wrk';
  const command = [bin, ...args].join(' ');
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    let out = '';
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const unregister = onInterrupt(async () => {
      child.kill('SIGKILL');
    });
    const hardTimeout = setTimeout(() => child.kill('SIGKILL'), (opts.durationSec + (opts.timeoutSec ?? 30) + 30) * 1000);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', (e) => {
      out += `\nspawn error: ${e.message}`;
    });
    child.once('close', (c, sig) => {
      clearTimeout(hardTimeout);
      unregister();
      resolve({ code: c ?? (sig ? 128 : -1), output: out });
    });
  });
  return parseWrkOutput(output, code, command);
}

/** "wrk 4.1.0 [epoll]" style version line, or undefined when wrk is missing. */
export async function wrkVersion(bin = 'wrk'): Promise<string | undefined> {
  const r = await run(bin, ['-v'], { timeoutMs: 5000 });
  const line = r.output.split('\n').find((l) => /^wrk /.test(l));
  return line?.replace(/\s+Copyright.*$/, '').trim();
}
