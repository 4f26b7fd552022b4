/**
 * Microbenchmarks of the multi-tenant harness (issue 7), on Python 3.12+ own-GIL tenants:
 *
 *   1. acquiring a tenant from the warm pool vs `_interpreters.create()` vs spawning `python3 -c`
 *      (median; goal < 1 ms vs about 16 ms and 30 ms);
 *   2. how late a timeout fires after its deadline (goal: within 20 ms);
 *   3. memory per live tenant, 100 of them (goal < 3 MiB each);
 *   4. RSS growth per create/destroy cycle over many cycles (goal < 10 kB per cycle);
 *   5. tenant.run of a trivial statement (median; goal < 50 µs);
 *   6. CPU-bound work in 2 tenants at once vs in one, one after the other (goal <= 0.6).
 *
 * Usage: node --import tsx bench/micro/harness.ts [--python PATH] [--quick] [--cycles N] [--out FILE]
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
    out: { type: 'string', default: path.join(REPO, 'bench', 'results', 'micro-harness.json') },
  },
});
const python = args.python ?? process.env.PYHOST_PYTHON ?? path.join(os.homedir(), '.pyenv', 'versions', '3.13.0', 'bin', 'python3');
const quick = args.quick;
const cycles = Number(args.cycles ?? (quick ? 300 : 10000));

const p = (xs: number[], q: number) => quantile([...xs].sort((a, b) => a - b), q);
const rssMiB = () => process.memoryUsage.rss() / 2 ** 20;

async function waitPool(h: Harness, n: number): Promise<void> {
  const deadline = Date.now() + 60000;
  while (h.poolIdle < n && Date.now() < deadline) await sleep(20);
}

const results: Record<string, unknown> = { python, date: new Date().toISOString(), cores: os.cpus().length, cycles };
const h = await Harness.start({ python, gil: 'own', pool: 8, engine: { logger: () => {} } });
results.pythonVersion = h.engine.pythonVersion;

// 1. Acquisition.
const acquire: number[] = [];
for (let i = 0; i < (quick ? 20 : 40); i++) {
  await waitPool(h, 4);
  const t0 = performance.now();
  const t = await h.tenant(`acq-${i}`);
  acquire.push(performance.now() - t0);
  await t.close();
}
const probe = await h.tenant('probe');
const create = await probe.run(
  'import time\ntry:\n    import _interpreters as I\nexcept ImportError:\n    import _xxsubinterpreters as I\n' +
    'ts = []\nfor _ in range(10):\n    t0 = time.perf_counter(); i = I.create(); ts.append((time.perf_counter() - t0) * 1000); I.destroy(i)\nsorted(ts)[5]',
);
await probe.close();
const spawnTimes: number[] = [];
for (let i = 0; i < 10; i++) {
  const t0 = performance.now();
  spawnSync(python, ['-c', 'pass']);
  spawnTimes.push(performance.now() - t0);
}
results.acquire = { tenantMedianMs: median(acquire), tenantP99Ms: p(acquire, 0.99), interpretersCreateMedianMs: create.value, createError: create.error?.message, spawnMedianMs: median(spawnTimes) };

// 5. Trivial run.
const runner = await h.tenant('runner');
for (let i = 0; i < 2000; i++) await runner.run('1');
const runs: number[] = [];
for (let i = 0; i < (quick ? 5000 : 20000); i++) {
  const t0 = performance.now();
  await runner.run('1');
  runs.push((performance.now() - t0) * 1000);
}
results.run = { medianUs: median(runs), p99Us: p(runs, 0.99) };

// 2. Timeout lateness.
const late: number[] = [];
for (let i = 0; i < (quick ? 10 : 30); i++) {
  const t0 = performance.now();
  const r = await runner.run('while True: pass', { timeout: 100 });
  if (r.error?.type !== 'TimeoutError') throw new Error(`expected a TimeoutError, got ${JSON.stringify(r.error)}`);
  late.push(performance.now() - t0 - 100);
}
results.timeout = { medianLateMs: median(late), maxLateMs: Math.max(...late) };

// 6. CPU-bound scaling: rounds of (the work twice in one tenant, then once in each of two at
// once), the ratio taken within each round: this VM's vCPU speed changes from one second to the
// next. Cores used (the tenants' thread CPU time per wall second) does not depend on it.
const work = 'import time\ndef work(n):\n    t0 = time.thread_time()\n    s = 0\n    for i in range(n):\n        s += i\n    return time.thread_time() - t0\n';
const w1 = await h.tenant('w1', { files: { 'cpu.py': work } });
const w2 = await h.tenant('w2', { files: { 'cpu.py': work } });
const n = quick ? 3_000_000 : 8_000_000;
await Promise.all([w1.call('cpu:work', [1000]), w2.call('cpu:work', [1000])]);
const ratios: number[] = [];
const cores: number[] = [];
for (let round = 0; round < (quick ? 3 : 7); round++) {
  let t0 = performance.now();
  await w1.call('cpu:work', [n]);
  await w1.call('cpu:work', [n]);
  const serial = performance.now() - t0;
  t0 = performance.now();
  const both = await Promise.all([w1.call('cpu:work', [n]), w2.call('cpu:work', [n])]);
  const parallel = performance.now() - t0;
  ratios.push(parallel / serial);
  cores.push((both.reduce((a, r) => a + Number(r.value), 0) * 1000) / parallel);
}
results.scaling = { ratio: median(ratios), coresUsed: median(cores), ratios, rounds: ratios.length };
await Promise.all([w1.close(), w2.close(), runner.close()]);

// 3. 100 live tenants.
await waitPool(h, 8);
global.gc?.();
const before = rssMiB();
const live = [];
for (let i = 0; i < 100; i++) {
  const t = await h.tenant(`live-${i}`);
  await t.run('x = 1');
  live.push(t);
}
await sleep(500);
const after = rssMiB();
results.liveTenants = { count: 100, rssBeforeMiB: before, rssAfterMiB: after, perTenantMiB: (after - before) / 100 };
await Promise.all(live.map((t) => t.close()));

// 4. Create/destroy cycles.
const cycle = async (i: number) => {
  const t = await h.tenant(`cycle-${i}`);
  await t.run('1');
  await t.close();
};
const warm = Math.min(500, Math.floor(cycles / 5));
for (let i = 0; i < warm; i++) await cycle(i);
await sleep(200);
const start = rssMiB();
const samples: number[] = [];
// CPython 3.12/3.13 keep ~1.7 MB per own-GIL interpreter: 10,000 cycles would take ~17 GB. Stop
// once RSS has grown by MAX_GROWTH_MIB; the growth per cycle is measured on the cycles done.
const MAX_GROWTH_MIB = 2048;
let done = 0;
for (; done < cycles; done++) {
  await cycle(warm + done);
  if (done % Math.max(1, Math.floor(cycles / 20)) === 0) samples.push(rssMiB());
  if (done % 50 === 49 && rssMiB() - start > MAX_GROWTH_MIB) {
    done++;
    break;
  }
}
await sleep(200);
const end = rssMiB();
results.cycles = { count: done, requested: cycles, stoppedAtGrowthMiB: done < cycles ? MAX_GROWTH_MIB : null, rssStartMiB: start, rssEndMiB: end, growthPerCycleKB: ((end - start) * 1024) / done, samplesMiB: samples };
await h.close();

const rows: string[][] = [['measure', 'result', 'goal']];
const row = (k: string, v: string, goal: string) => rows.push([k, v, goal]);
const a = results.acquire as Record<string, number>;
row('acquire a tenant (warm pool), median', `${a.tenantMedianMs.toFixed(3)} ms`, '< 1 ms');
row('_interpreters.create(), median', `${Number(a.interpretersCreateMedianMs).toFixed(2)} ms`, '');
row('spawn python3 -c pass, median', `${a.spawnMedianMs.toFixed(1)} ms`, '');
const to = results.timeout as Record<string, number>;
row('timeout lateness, median / max', `${to.medianLateMs.toFixed(1)} / ${to.maxLateMs.toFixed(1)} ms`, 'within 20 ms');
const lt = results.liveTenants as Record<string, number>;
row('memory per live tenant (100)', `${lt.perTenantMiB.toFixed(2)} MiB`, '< 3 MiB');
const cy = results.cycles as Record<string, number>;
row(`RSS growth per create/destroy (${cy.count}${cy.count < cycles ? ` of ${cycles}: stopped at +2 GiB` : ''})`, `${cy.growthPerCycleKB.toFixed(2)} kB`, '< 10 kB (CPython 3.12/3.13 leak ~1.7 MB per own-GIL interpreter)');
const ru = results.run as Record<string, number>;
row('tenant.run("1"), median / p99', `${ru.medianUs.toFixed(1)} / ${ru.p99Us.toFixed(1)} µs`, '< 50 µs');
const sc = results.scaling as Record<string, number>;
row('2 tenants CPU-bound: parallel / serial (cores used)', `${sc.ratio.toFixed(2)} (${sc.coresUsed.toFixed(2)})`, '<= 0.6');
console.log(`\npyhost micro/harness — Python ${String(results.pythonVersion)} own-GIL tenants, ${os.cpus().length} cores${quick ? ', --quick' : ''}`);
console.log(markdownTable(rows));
saveRun(args.out!, String(results.pythonVersion), { ...results, machine: machine(NaN), quick });
console.log(`\nwritten: ${path.relative(process.cwd(), args.out!)}`);
process.exit(0);
