/**
 * What the in-process microbenchmarks share: statistics, CPU accounting (this process vs the rest
 * of the host, so a disturbed measurement can be flagged), waiting for an idle machine, Markdown
 * tables and merging a run into its JSON results file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { statFields } from '../lib/cpu.js';
import { cpuTimes, hostBusyPct } from '../lib/machine.js';
import { parseArgs } from 'node:util';

export const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');

export interface MicroArgs {
  python?: string;
  quick: boolean;
  out: string;
  waitIdleSec: number;
  /** --svg FILE, for suites that draw a chart. */
  svg: string;
}

/**
 * The command line every suite shares: [--python PATH] [--quick] [--wait-idle SEC] [--out FILE]
 * (and --svg FILE where `withSvg`). Prints the usage and exits on --help.
 */
export function microArgs(suite: string, withSvg = false): MicroArgs {
  const { values } = parseArgs({
    options: {
      python: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: path.join(RESULTS_DIR, `micro-${suite}.json`) },
      svg: { type: 'string', default: path.join(RESULTS_DIR, `micro-${suite}.svg`) },
      'wait-idle': { type: 'string', default: '0' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`Usage: node --import tsx bench/micro/${suite}.ts [--python PATH] [--quick] [--wait-idle SEC] [--out FILE]${withSvg ? ' [--svg FILE]' : ''}`);
    process.exit(0);
  }
  return { python: values.python, quick: values.quick!, out: values.out!, waitIdleSec: Number(values['wait-idle']) || 0, svg: values.svg! };
}

export const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const log = (s: string): void => void process.stderr.write(s + '\n');

export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}
export const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

/** Median, p99 and mean (µs) of round-trip times given in ms. */
export function latencyStats(msTimes: ArrayLike<number>): { medianUs: number; p99Us: number; meanUs: number; samples: number } {
  const sorted = Array.from(msTimes).sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return {
    medianUs: round(quantile(sorted, 0.5) * 1000, 2),
    p99Us: round(quantile(sorted, 0.99) * 1000, 2),
    meanUs: round(mean * 1000, 2),
    samples: sorted.length,
  };
}

/** Times `samples` sequential awaits of `fn` (after `warm` unmeasured ones); ms each. */
export async function timeSequential(fn: () => Promise<unknown>, samples: number, warm = Math.min(2000, samples)): Promise<Float64Array> {
  for (let i = 0; i < warm; i++) await fn();
  const times = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await fn();
    times[i] = performance.now() - t0;
  }
  return times;
}

/** The host's jiffies (zero off Linux: then nobody else counts as busy). */
const hostCpuTimes = () => cpuTimes() ?? { busy: 0, total: 0 };

/** Jiffies per second of /proc/stat (USER_HZ: 100 on Linux). */
const USER_HZ = 100;


export interface Measured {
  ms: number;
  /** This process's CPU seconds per wall second. */
  cpuPerWall: number;
  /**
   * Cores the rest of the host kept busy meanwhile (other processes, steal time); for benchmarks
   * whose work runs in child processes, pass `children` so their CPU is not counted as others'.
   */
  otherCores: number;
}

/** Runs `fn`, measuring wall time, this process's CPU and the rest of the host's (from /proc/stat). */
export async function measured(fn: () => Promise<unknown>, childCpuSeconds?: () => number): Promise<Measured> {
  const host0 = hostCpuTimes();
  const cpu0 = process.cpuUsage();
  const child0 = childCpuSeconds?.() ?? 0;
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const child = (childCpuSeconds?.() ?? 0) - child0;
  const host1 = hostCpuTimes();
  const ownCores = (cpu.user + cpu.system) / 1000 / ms;
  const hostCores = (host1.busy - host0.busy) / USER_HZ / (ms / 1000);
  return { ms, cpuPerWall: ownCores, otherCores: Math.max(0, hostCores - ownCores - child / (ms / 1000)) };
}

/**
 * Completions per second of `fn` kept `inFlight` times in flight for `seconds` (after `warmMs` of
 * the same unmeasured). The first error stops the run and is thrown.
 */
export async function inFlightRate(fn: () => Promise<unknown>, inFlight: number, seconds: number, warmMs = 500) {
  let running = true;
  let done = 0;
  let failed: unknown;
  const worker = async (until = Infinity) => {
    while (running && Date.now() < until) {
      try {
        await fn();
        done++;
      } catch (err) {
        failed ??= err;
        running = false;
      }
    }
  };
  const warmEnd = Date.now() + warmMs;
  await Promise.all(Array.from({ length: inFlight }, () => worker(warmEnd)));
  done = 0;
  let counted = 0;
  let workers: Promise<void>[] = [];
  const m = await measured(async () => {
    workers = Array.from({ length: inFlight }, () => worker());
    await sleep(seconds * 1000);
    counted = done;
  });
  running = false;
  await Promise.all(workers);
  if (failed) throw failed;
  return {
    perSec: Math.round(counted / (m.ms / 1000)),
    inFlight,
    seconds: round(m.ms / 1000, 2),
    processCpuPerWall: round(m.cpuPerWall, 2),
    hostOtherCores: round(m.otherCores, 2),
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number {
  const f = statFields(String(pid));
  return f ? (Number(f[11]) + Number(f[12])) / USER_HZ : 0;
}

/** Waits up to `seconds` for the host to be < 15% busy; returns the last busy %. */
export async function waitIdle(seconds: number): Promise<number> {
  const end = Date.now() + seconds * 1000;
  let busy = (await hostBusyPct(1000)) ?? NaN;
  while (busy > 15 && Date.now() < end) {
    log(`host ${busy}% busy: waiting for it to go idle...`);
    busy = (await hostBusyPct(2000)) ?? NaN;
  }
  return busy;
}

export function machine(hostBusyPctAtStart: number): Record<string, unknown> {
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memGiB: round(os.totalmem() / 2 ** 30),
    node: process.version,
    hostBusyPctAtStart,
    loadavg: os.loadavg().map((x) => round(x, 2)),
  };
}

/** What every suite's result starts with: when, which Python, which machine, quick or not. */
export function resultHeader(engine: { pythonVersion: string; python: string }, hostBusyPctAtStart: number, quick: boolean) {
  return {
    date: new Date().toISOString(),
    python: { version: engine.pythonVersion, executable: engine.python },
    machine: machine(hostBusyPctAtStart),
    quick,
  };
}

export function markdownTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((cell, c) => (cell ?? '').padEnd(widths[c])).join(' | ') + ' |';
  return [line(rows[0]), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.slice(1).map(line)].join('\n');
}

/** Merges `result` into the JSON file `out` under runs[key] (one entry per Python version). */
export function saveRun(out: string, key: string, result: unknown): void {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  let all: { runs: Record<string, unknown> } = { runs: {} };
  try {
    all = JSON.parse(fs.readFileSync(out, 'utf8'));
    all.runs ??= {};
  } catch {
    /* first run */
  }
  all.runs[key] = result;
  fs.writeFileSync(out, JSON.stringify(all, null, 2) + '\n');
}

/** RSS and PSS (MiB) of a process, from /proc/<pid>/smaps_rollup. */
export function processMemoryMiB(pid: number): { rssMiB: number; pssMiB: number } {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMiB: round(kb('Rss') / 1024, 2), pssMiB: round(kb('Pss') / 1024, 2) };
}
