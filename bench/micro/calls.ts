/**
 * In-process microbenchmarks of the native core's call path (issue 2):
 *
 *   1. group.eval("1") round trip, sequential: median and p99 in µs per group kind
 *      (%{GLOBAL}, shared-GIL sub-interpreter, own-GIL sub-interpreter on 3.12+); goal < 20 µs median (issue 20).
 *      Benchmark.js (deferred) gives a second opinion on the mean.
 *   2. Calls per second with 1,000 calls in flight, per group kind; goal >= 250,000/s.
 *   3. RSS added per extra sub-interpreter group (20 created and started, 1 worker each).
 *   4. Host functions (issue 18): pyhost.host.ping() round trip timed in Python (median, p99), and
 *      host calls/s with 8 Python threads calling at once.
 *   5. group.iterate over a generator: values/s with batch 1 and batch 1,000.
 * CPU-bound scaling across groups and daemon processes is bench/micro/scaling.ts.
 *
 * Usage: node --import tsx bench/micro/calls.ts [--python PATH] [--quick] [--wait-idle SEC] [--out FILE]
 * $PYHOST_BENCH_IDLE_SPIN=µs sets the scheduler's idleSpinMicros for the run (0: an idle worker
 * sleeps at once), to compare with the default (100); $PYHOST_BENCH_LOOP_POLL=µs likewise sets
 * loopPollMicros (0: the event loop sleeps until a worker wakes it; default 50).
 * --wait-idle: first wait up to SEC seconds for the machine to be idle (other processes' load makes
 * every number here noisy); the host's busy % at start is recorded either way.
 * Prints a table and merges the results, keyed by Python version, into
 * bench/results/micro-calls.json (or --out).
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Engine, type Group, type GroupOptions } from '../../ts/index.js';
import { schedulerPolicy, setSchedulerPolicy } from '../../ts/scheduler/index.js';
import { inFlightRate, microArgs, resultHeader, latencyStats, log, markdownTable, measured, round, saveRun, timeSequential, waitIdle } from './common.js';


/** The part of Benchmark.js used here (the package ships no types). */
interface BenchmarkStats {
  mean: number;
  rme: number;
  sample: number[];
}
interface BenchmarkInstance {
  hz: number;
  stats: BenchmarkStats;
  error?: unknown;
  on(event: string, fn: () => void): BenchmarkInstance;
  run(opts?: { async?: boolean }): void;
}
type Deferred = { resolve(): void };
type BenchmarkCtor = new (name: string, opts: { defer: true; fn: (d: Deferred) => void; minSamples?: number; maxTime?: number }) => BenchmarkInstance;
const Benchmark = createRequire(import.meta.url)('benchmark') as BenchmarkCtor;

const args = microArgs('calls');
if (process.env.PYHOST_BENCH_IDLE_SPIN) setSchedulerPolicy({ idleSpinMicros: Number(process.env.PYHOST_BENCH_IDLE_SPIN) });
if (process.env.PYHOST_BENCH_LOOP_POLL) setSchedulerPolicy({ loopPollMicros: Number(process.env.PYHOST_BENCH_LOOP_POLL) });
const quick = args.quick;


interface Kind {
  id: 'global' | 'shared' | 'own';
  label: string;
  name: string;
  options?: GroupOptions;
}

async function roundTrip(g: Group, samples: number) {
  let times: ArrayLike<number> = [];
  const m = await measured(async () => {
    times = await timeSequential(() => g.eval('1'), samples);
  });
  return { ...latencyStats(times), hostOtherCores: round(m.otherCores, 2) };
}

function benchmarkJs(g: Group, maxTime: number): Promise<{ meanUs: number; rmePct: number; opsPerSec: number; cycles: number }> {
  return new Promise((resolve, reject) => {
    const b = new Benchmark('eval("1")', {
      defer: true,
      maxTime,
      minSamples: 20,
      fn(d: Deferred) {
        g.eval('1').then(() => d.resolve(), (err) => {
          reject(err);
          d.resolve();
        });
      },
    });
    b.on('complete', () => {
      if (b.error) reject(b.error);
      else resolve({ meanUs: round(b.stats.mean * 1e6, 2), rmePct: round(b.stats.rme, 2), opsPerSec: Math.round(b.hz), cycles: b.stats.sample.length });
    });
    b.run({ async: true });
  });
}

async function throughput(g: Group, inFlight: number, seconds: number) {
  const { perSec, ...rest } = await inFlightRate(() => g.eval('1'), inFlight, seconds);
  return { callsPerSec: perSec, ...rest };
}

const HOST_BENCH = `
import threading, time, pyhost
def host_round_trip(n):
    ping = pyhost.host.ping
    for _ in range(200):
        ping()
    times = []
    for _ in range(n):
        t = time.perf_counter_ns()
        ping()
        times.append(time.perf_counter_ns() - t)
    times.sort()
    return [times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000]

def host_threads(threads, seconds):
    ping = pyhost.host.ping
    counts = [0] * threads
    stop = time.monotonic() + seconds
    def run(i):
        while time.monotonic() < stop:
            ping()
            counts[i] += 1
    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for t in ts: t.start()
    for t in ts: t.join()
    return sum(counts) / (time.monotonic() - start)
`;

async function hostFunctions(g: Group, samples: number, seconds: number) {
  await g.exec(HOST_BENCH);
  const [medianUs, p99Us] = await g.eval<[number, number]>(`host_round_trip(${samples})`);
  const threadsCallsPerSec = Math.round(await g.eval<number>(`host_threads(8, ${seconds})`));
  return { medianUs: round(medianUs, 1), p99Us: round(p99Us, 1), threadsCallsPerSec };
}

async function iteration(g: Group, batch: number, values: number) {
  await g.exec('import sys\nsys.modules["bench_gens"] = type(sys)("bench_gens")\nsys.modules["bench_gens"].numbers = lambda n: iter(range(n))');
  const started = performance.now();
  let count = 0;
  for await (const _ of g.iterate('bench_gens', 'numbers', [values], { batch })) count++;
  return Math.round(count / ((performance.now() - started) / 1000));
}

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

async function rssPerGroup(engine: Engine, prefix: string, options: GroupOptions, count: number) {
  const before = rssMiB();
  const groups: Group[] = [];
  for (let i = 0; i < count; i++) {
    const g = engine.group(`${prefix}-${i}`, { threads: 1, ...options });
    await g.eval('1');
    groups.push(g);
  }
  await new Promise((r) => setTimeout(r, 200));
  const after = rssMiB();
  return { groups: count, rssBeforeMiB: round(before), rssAfterMiB: round(after), perGroupMiB: round((after - before) / count, 2) };
}

async function main(): Promise<void> {
  const hostBusyPctAtStart = await waitIdle(args.waitIdleSec);
  const loadavgAtStart = os.loadavg().map((x) => round(x, 2));
  const engine = await Engine.start({ python: args.python, logger: () => {} });
  const [maj, min] = engine.pythonVersion.split('.').map(Number);
  const ownGil = maj > 3 || (maj === 3 && min >= 12);
  const kinds: Kind[] = [
    { id: 'global', label: '%{GLOBAL}', name: '%{GLOBAL}' },
    { id: 'shared', label: 'shared-GIL sub-interpreter', name: 'bench-shared', options: { gil: 'shared' } },
  ];
  if (ownGil) kinds.push({ id: 'own', label: 'own-GIL sub-interpreter', name: 'bench-own', options: { gil: 'own' } });
  log(`pyhost micro/calls: Python ${engine.pythonVersion} (${engine.python}), Node ${process.version}, ${os.cpus().length} cores${quick ? ', --quick' : ''}`);

  // 3 first, before the other runs grow the heap.
  log('RSS per sub-interpreter group...');
  const rss: Record<string, unknown> = { shared: await rssPerGroup(engine, 'rss-shared', { gil: 'shared' }, 20) };
  if (ownGil) rss.own = await rssPerGroup(engine, 'rss-own', { gil: 'own' }, 20);

  const latency: Record<string, unknown> = {};
  const benchjs: Record<string, unknown> = {};
  const tput: Record<string, unknown> = {};
  const host: Record<string, unknown> = {};
  const iterate: Record<string, unknown> = {};
  for (const k of kinds) {
    log(`host functions: ${k.label}...`);
    const hg = engine.group(`${k.name}-host`.replace('%{GLOBAL}-host', '%{GLOBAL}'), { ...k.options, threads: 8, host: { ping: () => null } });
    host[k.id] = await hostFunctions(hg, quick ? 2000 : 20000, quick ? 1 : 3);
    log(`iteration: ${k.label}...`);
    iterate[k.id] = { batch1: await iteration(hg, 1, quick ? 5000 : 30000), batch1000: await iteration(hg, 1000, quick ? 200_000 : 2_000_000) };
  }
  for (const k of kinds) {
    const g = engine.group(k.name, k.options);
    await g.eval('1');
    log(`round trip: ${k.label}...`);
    latency[k.id] = await roundTrip(g, quick ? 5000 : 30000);
    benchjs[k.id] = await benchmarkJs(g, quick ? 1 : 3);
    log(`throughput (1,000 in flight): ${k.label}...`);
    tput[k.id] = await throughput(g, 1000, quick ? 1 : 3);
  }

  await engine.close();

  const result = {
    ...resultHeader(engine, hostBusyPctAtStart, quick),
    loadavgAtStart,
    goals: { roundTripMedianUs: 20, callsPerSec: 250000 },
    idleSpinMicros: schedulerPolicy().idleSpinMicros,
    loopPollMicros: schedulerPolicy().loopPollMicros,
    roundTrip: latency,
    benchmarkJs: benchjs,
    throughput: tput,
    hostFunctions: host,
    iterate,
    rssPerGroup: rss,
  };

  // table
  const rows: string[][] = [['measure', ...kinds.map((k) => k.label)]];
  const pick = (o: Record<string, unknown>, id: string, key: string) => {
    const r = o[id] as Record<string, unknown> | undefined;
    const v = r?.[key];
    if (v === undefined || (typeof v === 'number' && Number.isNaN(v))) return 'n/a';
    // '*': other processes kept more than a quarter of a core busy meanwhile
    return String(v) + (typeof r?.hostOtherCores === 'number' && r.hostOtherCores > 0.25 ? ' *' : '');
  };
  rows.push(['eval("1") median µs (goal < 20)', ...kinds.map((k) => pick(latency, k.id, 'medianUs'))]);
  rows.push(['eval("1") p99 µs', ...kinds.map((k) => pick(latency, k.id, 'p99Us'))]);
  rows.push(['Benchmark.js mean µs (± rme %)', ...kinds.map((k) => `${pick(benchjs, k.id, 'meanUs')} (±${pick(benchjs, k.id, 'rmePct')}%)`)]);
  rows.push(['calls/s, 1,000 in flight (goal >= 250,000)', ...kinds.map((k) => pick(tput, k.id, 'callsPerSec'))]);
  rows.push(['pyhost.host.ping() median µs, timed in Python', ...kinds.map((k) => pick(host, k.id, 'medianUs'))]);
  rows.push(['pyhost.host.ping() p99 µs', ...kinds.map((k) => pick(host, k.id, 'p99Us'))]);
  rows.push(['host calls/s, 8 Python threads', ...kinds.map((k) => pick(host, k.id, 'threadsCallsPerSec'))]);
  rows.push(['iterate values/s, batch 1', ...kinds.map((k) => pick(iterate, k.id, 'batch1'))]);
  rows.push(['iterate values/s, batch 1,000', ...kinds.map((k) => pick(iterate, k.id, 'batch1000'))]);
  rows.push(['RSS per extra group, MiB (1 worker)', '-', pick(rss, 'shared', 'perGroupMiB'), ...(ownGil ? [pick(rss, 'own', 'perGroupMiB')] : [])]);
  console.log(`\npyhost micro/calls — Python ${engine.pythonVersion}, ${os.cpus().length} cores, ${os.cpus()[0]?.model}; idleSpinMicros ${schedulerPolicy().idleSpinMicros}, loopPollMicros ${schedulerPolicy().loopPollMicros}; host ${hostBusyPctAtStart}% busy at start`);
  console.log(markdownTable(rows));
  console.log('* other processes kept > 0.25 core busy during that measurement: treat it as noisy');

  saveRun(args.out, engine.pythonVersion, result);
  console.log(`\nwritten: ${path.relative(process.cwd(), args.out)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
