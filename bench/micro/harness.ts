/**
 * Microbenchmarks of the multi-tenant harness on Python 3.12+ own-GIL tenants, both isolation
 * modes side by side ('interpreter': tenants in this process; 'process': in tenant host
 * processes):
 *
 *   1. acquiring a tenant from the warm pool (median; goal < 1 ms), next to `_interpreters.create()`
 *      and spawning `python3 -c pass`;
 *   2. tenant.run("1") round trip (median; goal < 50 µs in-interpreter, < 100 µs in a host);
 *   3. how late a timeout ends the call, for a pure-Python loop and for time.sleep (goal: max < 20 ms);
 *   4. process mode: from a crash (os._exit) to the crashed tenant answering again in a fresh host
 *      (goal < 100 ms);
 *   5. memory per live tenant, 100 of them (goal < 3 MiB; process mode counts the hosts);
 *   6. the harness's RSS (this process and its hosts) after N reset() cycles against after 100
 *      (goal in process mode, default allocator: < 1.5x after 10,000);
 *   7. CPU-bound work in 2 tenants at once vs one after the other (goal <= 0.6).
 *
 * Usage: node --import tsx bench/micro/harness.ts [--python PATH] [--quick] [--cycles N]
 *        [--modes process,interpreter] [--out FILE]
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Harness } from '../../ts/harness/index.js';
import { machine, markdownTable, median, quantile, saveRun, sleep } from './common.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: args } = parseArgs({
  options: {
    python: { type: 'string' },
    quick: { type: 'boolean', default: false },
    cycles: { type: 'string' },
    modes: { type: 'string', default: 'interpreter,process' },
    out: { type: 'string', default: path.join(REPO, 'bench', 'results', 'micro-harness.json') },
  },
});
const python = args.python ?? process.env.PYHOST_PYTHON ?? path.join(os.homedir(), '.pyenv', 'versions', '3.13.0', 'bin', 'python3');
const quick = args.quick;
const cycles = Number(args.cycles ?? (quick ? 500 : 10000));
const modes = args.modes!.split(',') as ('process' | 'interpreter')[];
const p = (xs: number[], q: number) => quantile([...xs].sort((a, b) => a - b), q);
const MiB = 2 ** 20;

type ModeResult = Record<string, Record<string, number | number[] | string | null | undefined>>;

async function measure(isolation: 'process' | 'interpreter'): Promise<ModeResult> {
  const r: ModeResult = {};
  const h = await Harness.start({ python, isolation, gil: 'own', pool: 8, engine: { logger: () => {} } });
  const warmUp = async () => {
    // Let the warm pool fill (in a host: its pool fills once the host is ready).
    const t = await h.tenant(`warm-${Math.random()}`);
    await t.run('1');
    await t.close();
    await sleep(isolation === 'process' ? 1500 : 500);
  };
  await warmUp();

  // 1. Acquisition.
  const acquire: number[] = [];
  for (let i = 0; i < (quick ? 20 : 40); i++) {
    const t0 = performance.now();
    const t = await h.tenant(`acq-${i}`);
    acquire.push(performance.now() - t0);
    await t.close();
    await sleep(30); // the pool refills in the background
  }
  r.acquire = { medianMs: median(acquire), p99Ms: p(acquire, 0.99) };

  // 2. Trivial run.
  const runner = await h.tenant('runner');
  for (let i = 0; i < 2000; i++) await runner.run('1');
  const runs: number[] = [];
  for (let i = 0; i < (quick ? 5000 : 20000); i++) {
    const t0 = performance.now();
    await runner.run('1');
    runs.push((performance.now() - t0) * 1000);
  }
  r.run = { medianUs: median(runs), p99Us: p(runs, 0.99) };

  // 3. Timeout lateness: when the result is back, past the timeout.
  const lateness = async (code: string) => {
    const late: number[] = [];
    for (let i = 0; i < (quick ? 10 : 30); i++) {
      const t0 = performance.now();
      const res = await runner.run(code, { timeout: 100 });
      if (res.error?.code !== 'TIMEOUT') throw new Error(`expected TIMEOUT, got ${JSON.stringify(res.error)}`);
      late.push(performance.now() - t0 - 100);
    }
    return { medianLateMs: median(late), maxLateMs: Math.max(...late) };
  };
  r.timeoutLoop = await lateness('while True: pass');
  r.timeoutSleep = await lateness('import time\ntime.sleep(60)');

  // 4. Crash to a ready replacement.
  if (isolation === 'process') {
    const crashes: number[] = [];
    const detected: number[] = [];
    for (let i = 0; i < (quick ? 5 : 15); i++) {
      await sleep(300); // a spare host ready again
      const t = await h.tenant(`crash-${i}`);
      const t0 = performance.now();
      const res = await t.run('import os\nos._exit(1)');
      detected.push(performance.now() - t0);
      if (res.error?.code !== 'CRASHED') throw new Error(`expected CRASHED, got ${JSON.stringify(res.error)}`);
      const again = await t.run('1');
      if (again.value !== 1) throw new Error(`the replacement did not answer: ${JSON.stringify(again)}`);
      crashes.push(performance.now() - t0);
      await t.close();
    }
    r.crash = { detectedMedianMs: median(detected), readyMedianMs: median(crashes), readyMaxMs: Math.max(...crashes) };
  }

  // 7. CPU-bound scaling, the ratio taken within each round (this VM's speed drifts).
  const work = 'import time\ndef work(n):\n    t0 = time.thread_time()\n    s = 0\n    for i in range(n):\n        s += i\n    return time.thread_time() - t0\n';
  const w1 = await h.tenant('w1', { files: { 'cpu.py': work } });
  const w2 = await h.tenant('w2', { files: { 'cpu.py': work } });
  const n = quick ? 3_000_000 : 8_000_000;
  await Promise.all([w1.call('cpu:work', [1000]), w2.call('cpu:work', [1000])]);
  const ratios: number[] = [];
  for (let round = 0; round < (quick ? 3 : 7); round++) {
    let t0 = performance.now();
    await w1.call('cpu:work', [n]);
    await w1.call('cpu:work', [n]);
    const serial = performance.now() - t0;
    t0 = performance.now();
    await Promise.all([w1.call('cpu:work', [n]), w2.call('cpu:work', [n])]);
    ratios.push((performance.now() - t0) / serial);
  }
  r.scaling = { ratio: median(ratios), ratios };
  await Promise.all([w1.close(), w2.close(), runner.close()]);

  // 5. 100 live tenants.
  await sleep(1000);
  const before = h.rss();
  const live = [];
  for (let i = 0; i < 100; i++) {
    const t = await h.tenant(`live-${i}`);
    await t.run('x = 1');
    live.push(t);
  }
  await sleep(500);
  const after = h.rss();
  r.liveTenants = { count: 100, rssBeforeMiB: before / MiB, rssAfterMiB: after / MiB, perTenantMiB: (after - before) / MiB / 100 };
  await Promise.all(live.map((t) => t.close()));

  // 6. reset() cycles.
  const cycler = await h.tenant('cycler');
  const samples: number[] = [];
  let after100 = 0;
  let done = 0;
  // In this process, CPython 3.12/3.13 keep ~1.7 MB per own-GIL interpreter: stop at +2 GiB.
  const MAX_GROWTH = 2048 * MiB;
  for (; done < cycles; done++) {
    await cycler.run('x = 1');
    await cycler.reset();
    if (done === 99) after100 = h.rss();
    if (done % Math.max(1, Math.floor(cycles / 20)) === 0) samples.push(h.rss() / MiB);
    if (after100 && done % 50 === 49 && h.rss() - after100 > MAX_GROWTH) {
      done++;
      break;
    }
  }
  await sleep(500);
  const end = h.rss();
  r.cycles = { count: done, requested: cycles, rssAfter100MiB: after100 / MiB, rssEndMiB: end / MiB, ratio: end / after100, samplesMiB: samples };
  await cycler.close();
  await h.close();
  return r;
}

const results: Record<string, unknown> = { python, date: new Date().toISOString(), cores: os.cpus().length, cycles };
// For reference: an interpreter made by hand, in a plain python process (tenants may not).
const created = spawnSync(python, ['-c',
  'import time\ntry:\n    import _interpreters as I\nexcept ImportError:\n    import _xxsubinterpreters as I\n' +
  'ts = []\nfor _ in range(10):\n    t0 = time.perf_counter(); i = I.create(); ts.append((time.perf_counter() - t0) * 1000); I.destroy(i)\nprint(sorted(ts)[5])'], { encoding: 'utf8' });
results.pythonVersion = spawnSync(python, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).stdout.trim();
const spawnTimes: number[] = [];
for (let i = 0; i < 10; i++) {
  const t0 = performance.now();
  spawnSync(python, ['-c', 'pass']);
  spawnTimes.push(performance.now() - t0);
}
results.reference = { spawnMedianMs: median(spawnTimes), interpretersCreateMedianMs: created.status === 0 ? Number(created.stdout.trim()) : null };
for (const mode of modes) results[mode] = await measure(mode);

const rows: string[][] = [['measure', ...modes, 'goal']];
const row = (label: string, f: (m: ModeResult) => string, goal: string) => rows.push([label, ...modes.map((m) => f(results[m] as ModeResult)), goal]);
row('acquire a tenant (warm pool), median', (m) => `${Number(m.acquire.medianMs).toFixed(3)} ms`, '< 1 ms');
row('tenant.run("1"), median / p99', (m) => `${Number(m.run.medianUs).toFixed(1)} / ${Number(m.run.p99Us).toFixed(1)} µs`, '< 50 µs (interpreter), < 100 µs (process)');
row('timeout lateness, loop: median / max', (m) => `${Number(m.timeoutLoop.medianLateMs).toFixed(1)} / ${Number(m.timeoutLoop.maxLateMs).toFixed(1)} ms`, 'max < 20 ms');
row('timeout lateness, time.sleep: median / max', (m) => `${Number(m.timeoutSleep.medianLateMs).toFixed(1)} / ${Number(m.timeoutSleep.maxLateMs).toFixed(1)} ms`, 'max < 20 ms');
row('crash to a ready replacement, median / max', (m) => (m.crash ? `${Number(m.crash.readyMedianMs).toFixed(1)} / ${Number(m.crash.readyMaxMs).toFixed(1)} ms` : 'n/a'), '< 100 ms');
row('memory per live tenant (100)', (m) => `${Number(m.liveTenants.perTenantMiB).toFixed(2)} MiB`, '< 3 MiB');
row(`harness RSS after ${cycles} resets / after 100`, (m) => `${Number(m.cycles.ratio).toFixed(2)}x (${Number(m.cycles.rssAfter100MiB).toFixed(0)} → ${Number(m.cycles.rssEndMiB).toFixed(0)} MiB${Number(m.cycles.count) < cycles ? `, stopped at ${m.cycles.count}` : ''})`, '< 1.5x (process)');
row('2 tenants CPU-bound: parallel / serial', (m) => Number(m.scaling.ratio).toFixed(2), '<= 0.6');
const ref = results.reference as Record<string, number | null>;
console.log(`\npyhost micro/harness — Python ${String(results.pythonVersion)} own-GIL tenants, ${os.cpus().length} cores${quick ? ', --quick' : ''}`);
console.log(markdownTable(rows));
console.log(`\nfor reference: spawning python3 -c pass ${Number(ref.spawnMedianMs).toFixed(1)} ms; _xxsubinterpreters.create() ${ref.interpretersCreateMedianMs === null ? 'n/a' : `${Number(ref.interpretersCreateMedianMs).toFixed(2)} ms`}`);
saveRun(args.out!, String(results.pythonVersion), { ...results, machine: machine(NaN), quick });
console.log(`\nwritten: ${path.relative(process.cwd(), args.out!)}`);
process.exit(0);
