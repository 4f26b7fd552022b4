/**
 * pyhost HTTP benchmark: the same WSGI apps behind bare Node, pyhost (embedded, daemon), Apache
 * mod_wsgi (embedded, daemon), gunicorn (sync, gthread), uWSGI and waitress, loaded with wrk, every
 * response checked. Writes results.json, results.md and results.svg; exits non-zero when any peer
 * errors or serves a wrong body.
 *
 *   node --import tsx bench/run.ts [--quick] [--only a,b] [--scenarios hello,64k] [--duration S]
 *                                  [--connections N] [--rounds N] [--out DIR]       (see --help)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { problems, runWrk, wrkVersion, type WrkResult } from './load/wrk.js';
import { preflight } from './load/preflight.js';
import { parseBenchArgs, USAGE, type BenchOptions } from './lib/args.js';
import { ensure, fileExists, pythonHas } from './lib/install.js';
import { cpuShare, cpuSnapshot } from './lib/cpu.js';
import { hostBusyPct, machineInfo, machineLine } from './lib/machine.js';
import { freePort, indent, installCleanupHooks, interrupted } from './lib/proc.js';
import { computeRatios, fmtMs, fmtRps, renderMarkdown, renderSvg, renderText, type BenchReport, type PeerInfo, type RunResult, type ScenarioInfo } from './lib/report.js';
import { runMicro } from './lib/micro.js';
import { combineRounds, roundOrder } from './lib/rounds.js';
import { allScenarios, BENCH_DIR, DEBIAN_PYTHON, prepareScenarios, REPO_DIR, type Scenario } from './lib/scenarios.js';
import { PEERS, type Peer } from './peers/index.js';

const t0 = Date.now();
/** Machine CPU busy % (others' processes) above which a run is flagged as noisy. */
const BUSY_PCT = 15;
const log = (line: string) => process.stdout.write(line + '\n');
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;

function loud(lines: string[]): void {
  const bar = '!'.repeat(78);
  process.stderr.write(['', bar, ...lines.map((l) => `!! ${l}`), bar, ''].join('\n') + '\n');
}

async function ensureWrk(): Promise<string> {
  let v = await wrkVersion();
  if (v) return v;
  const r = await ensure([{ what: 'wrk', present: () => fileExists('/usr/bin/wrk'), packages: ['wrk'] }], log);
  v = r.ok ? await wrkVersion() : undefined;
  if (!v) {
    loud([`wrk is required and could not be installed: ${r.ok ? 'wrk -v failed' : r.reason}`]);
    process.exit(2);
  }
  return v;
}

/** Unrelated processes took a real share of the CPUs during (or right before) the run. */
function noisy(r: RunResult): boolean {
  return (r.cpu?.othersPct ?? 0) > 10 || (r.hostBusyBeforePct ?? 0) > BUSY_PCT;
}

interface Measured {
  result: RunResult;
  failure?: string;
}

/** Round `n` (1-based) of `of`; with one round, names and messages are those of a bench without --rounds. */
interface Round {
  n: number;
  of: number;
}

const roundTag = (round: Round) => (round.of > 1 ? ` (round ${round.n} of ${round.of})` : '');

async function measure(peer: Peer, s: Scenario, opts: BenchOptions, logsDir: string, round: Round): Promise<Measured> {
  // Nothing of ours runs now: whatever is busy is someone else, and it will skew this run.
  let busyBefore = await hostBusyPct(300);
  if (opts.waitIdleSec > 0 && (busyBefore ?? 0) > BUSY_PCT) {
    const until = Date.now() + opts.waitIdleSec * 1000;
    log(`[bench] ${elapsed()}   machine ${busyBefore}% busy (not us): waiting up to ${opts.waitIdleSec}s for it to calm down`);
    while ((busyBefore ?? 0) > BUSY_PCT && Date.now() < until) busyBefore = await hostBusyPct(500);
  }
  const logFile = path.join(logsDir, `${peer.id}-${s.id}${round.of > 1 ? `-round${round.n}` : ''}.log`);
  fs.writeFileSync(logFile, '');
  const base: RunResult = { peer: peer.id, scenario: s.id, status: 'failed', logFile: path.relative(REPO_DIR, logFile) };
  const fail = (why: string, extra?: string): Measured => {
    const msg = `peer ${peer.id}, scenario ${s.id}${round.of > 1 ? `, round ${round.n} of ${round.of}` : ''}: ${why}`;
    if (!interrupted()) loud([`FAILED: ${msg}`, `log: ${logFile}`, ...(extra ? extra.split('\n') : [])]);
    return { result: { ...base, status: 'failed', reason: why }, failure: msg };
  };
  const port = await freePort();
  const started = Date.now();
  let server;
  try {
    server = await peer.start(s.app, { port, logFile, connections: opts.connections });
  } catch (e) {
    return fail(`server did not start: ${(e as Error).message.split('\n')[0]}`, (e as Error).message);
  }
  const startupMs = Date.now() - started;
  try {
    const pre = await preflight(server.url, s);
    if (pre.problems.length > 0) return fail(`first request wrong: ${pre.problems.join('; ')}`, indent(server.logTail()));
    const wrkOpts = { url: server.url, scenario: s, connections: opts.connections, threads: opts.threads };
    const warm = await runWrk({ ...wrkOpts, durationSec: opts.warmupSec });
    fs.appendFileSync(logFile, `\n--- wrk warm-up ---\n${warm.command}\n${warm.output}\n`);
    const warmProblems = problems(warm);
    if (warmProblems.length > 0) return fail(`during warm-up: ${warmProblems.join('; ')}`, `${warm.command}\n${indent(server.logTail())}`);
    const before = cpuSnapshot(server.pgid);
    const run: WrkResult = await runWrk({ ...wrkOpts, durationSec: opts.durationSec });
    const cpu = cpuShare(before, cpuSnapshot(server.pgid));
    const runProblems = problems(run);
    const result: RunResult = {
      ...base,
      status: 'ok',
      requestsPerSec: run.requestsPerSec,
      requests: run.requests,
      durationSec: run.durationSec,
      latencyMs: run.latencyMs,
      errors: { ...run.errors, mismatches: run.check.mismatches },
      checkedResponses: run.check.checked,
      effectiveConcurrency: run.requestsPerSec * (run.latencyMs.mean / 1000),
      warmup: { requestsPerSec: warm.requestsPerSec, requests: warm.requests },
      startupMs,
      ...(busyBefore !== undefined ? { hostBusyBeforePct: busyBefore } : {}),
      ...(cpu ? { cpu } : {}),
      wrkCommand: run.command,
    };
    fs.appendFileSync(logFile, `\n--- wrk ---\n${run.command}\n${run.output}\n`);
    if (runProblems.length > 0) {
      const f = fail(runProblems.join('; '), `${run.command}\n${indent(server.logTail())}`);
      return { result: { ...result, status: 'failed', reason: runProblems.join('; ') }, ...(f.failure ? { failure: f.failure } : {}) };
    }
    return { result };
  } finally {
    await server.stop();
  }
}

/** One round of one peer; on a shared machine (--wait-idle), a run that others disturbed is measured again, twice at most. */
async function measureRetrying(p: Peer, s: Scenario, opts: BenchOptions, logsDir: string, round: Round): Promise<Measured> {
  let m = await measure(p, s, opts, logsDir, round);
  for (let retry = 1; opts.waitIdleSec > 0 && retry <= 2 && m.result.status === 'ok' && noisy(m.result); retry++) {
    log(`[bench] ${elapsed()}   ${p.id}${roundTag(round)}: others used ${m.result.cpu?.othersPct ?? '?'}% of the CPUs during the run; measuring again`);
    m = await measure(p, s, opts, logsDir, round);
  }
  return m;
}

/** The console line of one run (one round), and a note when it was noisy. */
function logRun(p: Peer, s: Scenario, r: RunResult, opts: BenchOptions, round: Round, notes: string[]): void {
  const who = round.of > 1 ? `${p.id} ${round.n}/${round.of}`.padEnd(22) : p.id.padEnd(17);
  if (r.status !== 'ok') {
    log(`[bench] ${elapsed()}   ${who} FAILED`);
    return;
  }
  log(
    `[bench] ${elapsed()}   ${who} ${fmtRps(r.requestsPerSec!).padStart(8)} req/s  p50 ${fmtMs(r.latencyMs!.p50).padStart(8)}  ` +
      `p99 ${fmtMs(r.latencyMs!.p99).padStart(8)}  conns busy ${r.effectiveConcurrency!.toFixed(0)}` +
      (r.cpu ? `  cpu server ${r.cpu.serverPct}% wrk ${r.cpu.benchPct}% others ${r.cpu.othersPct}%` : '') +
      (noisy(r) ? '  NOISY' : '') +
      (r.effectiveConcurrency! < 0.5 * opts.connections ? `  STARVED? only ~${r.effectiveConcurrency!.toFixed(0)} of ${opts.connections} connections served` : ''),
  );
  if (noisy(r)) {
    notes.push(
      `${p.id}/${s.id}${roundTag(round)} is noisy: unrelated processes used ${r.cpu?.othersPct ?? '?'}% of the CPUs during the run ` +
        `(${r.hostBusyBeforePct ?? '?'}% just before it)`,
    );
  }
}

/** Replaces the part of bench/README.md between `<!-- bench:<section>:start/end -->`. */
function updateReadme(section: 'results' | 'micro', content: string): void {
  const readme = path.join(BENCH_DIR, 'README.md');
  const start = `<!-- bench:${section}:start -->`;
  const end = `<!-- bench:${section}:end -->`;
  const text = fs.readFileSync(readme, 'utf8');
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) {
    log(`[bench] --update-readme: markers not found in ${readme}; not updated`);
    return;
  }
  const block = `${start}\n\n${content.trim()}\n\n${end}`;
  fs.writeFileSync(readme, text.slice(0, i) + block + text.slice(j + end.length));
  log(`[bench] updated ${readme}`);
}

async function main(): Promise<number> {
  let opts: BenchOptions | 'help';
  try {
    opts = parseBenchArgs(process.argv.slice(2), PEERS.map((p) => p.id));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\nPeers:\n${PEERS.map((p) => `  ${p.id.padEnd(18)} ${p.setup}`).join('\n')}\n`);
    return 0;
  }
  installCleanupHooks();
  fs.mkdirSync(opts.outDir, { recursive: true });
  if (!opts.http) return microPart(opts);
  const logsDir = path.join(opts.outDir, 'logs');
  fs.mkdirSync(logsDir, { recursive: true });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-bench-'));
  process.on('exit', () => fs.rmSync(workDir, { recursive: true, force: true }));

  const notes: string[] = [];
  const failures: string[] = [];
  const wrk = await ensureWrk();
  const machine = await machineInfo(wrk);
  log(`[bench] ${machineLine(machine)}`);
  if ((machine.hostBusyPctAtStart ?? 0) > BUSY_PCT) {
    const msg = `the machine was ${machine.hostBusyPctAtStart}% busy before the bench started (load average ${machine.loadAverageAtStart.join(' ')}): other processes compete with the servers, numbers will be noisy`;
    loud([`WARNING: ${msg}`]);
    notes.push(msg);
  }
  log(
    `[bench] ${opts.quick ? 'quick' : 'full'} run: scenarios ${opts.scenarios.join(', ')}; ${opts.connections} connections; ` +
      `${opts.warmupSec}s warm-up + ${opts.durationSec}s per run${opts.rounds > 1 ? `; ${opts.rounds} interleaved rounds, median per peer` : ''}; out ${opts.outDir}`,
  );

  // Scenarios: their Python requirements, then the reference answers (a broken app stops everything).
  const scenarios = allScenarios().filter((s) => opts.scenarios.includes(s.id));
  const scenarioInfo: ScenarioInfo[] = [];
  const runnable: Scenario[] = [];
  for (const s of scenarios) {
    let skipped: string | undefined;
    if (s.pythonModules.length > 0) {
      const r = await ensure(
        s.pythonModules.map((m) => ({ what: `${m.module} for ${DEBIAN_PYTHON}`, present: () => pythonHas(DEBIAN_PYTHON, [m.module]), packages: [m.package] })),
        log,
      );
      if (!r.ok) {
        skipped = r.reason;
        loud([`SKIPPED scenario ${s.id}: ${r.reason}`]);
        notes.push(`scenario ${s.id} skipped: ${r.reason}`);
      }
    }
    if (!skipped) runnable.push(s);
    scenarioInfo.push({ id: s.id, title: s.title, method: s.method, requestBytes: s.requestBody?.length ?? 0, responseBytes: 0, ...(skipped ? { skipped } : {}) });
  }
  try {
    await prepareScenarios(runnable, workDir);
  } catch (e) {
    loud([`the bench apps themselves are wrong, nothing measured:`, ...(e as Error).message.split('\n')]);
    return 1;
  }
  for (const s of runnable) scenarioInfo.find((i) => i.id === s.id)!.responseBytes = s.expected.body.length;

  // Peers: install what is missing (sequentially: apt takes a lock), note who cannot run.
  const peers = PEERS.filter((p) => !opts.only || opts.only.includes(p.id));
  const peerInfo: PeerInfo[] = [];
  for (const p of peers) {
    const a = await p.prepare(log);
    const versions = a.ok ? await p.versions().catch(() => ({})) : {};
    if (!a.ok) {
      loud([`SKIPPED peer ${p.id}: ${a.reason}`]);
      notes.push(`${p.id} not run: ${a.reason}`);
    } else if (a.installed) {
      log(`[bench] installed for ${p.id}: ${a.installed.join(' ')}`);
    }
    peerInfo.push({ id: p.id, label: p.label, setup: p.setup, available: a.ok, ...(a.ok ? {} : { reason: a.reason }), versions });
  }

  // Measure: scenario by scenario, every peer in turn, so each table is taken within minutes; with
  // --rounds N, N times over with the order reversed every other round, so a drift in the
  // machine's speed does not always favour the same peer; each peer's median counts (lib/rounds.ts).
  const results: RunResult[] = [];
  for (const s of runnable) {
    log(`\n[bench] ${elapsed()} scenario ${s.id}: ${s.title}`);
    const fixed = new Map<string, RunResult>();
    const runs = new Map<string, RunResult[]>();
    for (const p of peers) {
      const info = peerInfo.find((i) => i.id === p.id)!;
      if (!info.available) fixed.set(p.id, { peer: p.id, scenario: s.id, status: 'skipped', reason: info.reason ?? 'not available' });
      else if (!p.supports(s)) fixed.set(p.id, { peer: p.id, scenario: s.id, status: 'n/a', reason: `${p.label} has no ${s.id} app` });
      else runs.set(p.id, []);
    }
    const measured = peers.filter((p) => runs.has(p.id));
    for (let i = 0; i < opts.rounds && !interrupted(); i++) {
      const round: Round = { n: i + 1, of: opts.rounds };
      // A peer that failed a round is not measured again: that failure is its result.
      const todo = roundOrder(measured, i).filter((p) => runs.get(p.id)!.every((r) => r.status === 'ok'));
      if (round.of > 1 && todo.length > 0) log(`[bench] ${elapsed()}  round ${round.n} of ${round.of}: ${todo.map((p) => p.id).join(', ')}`);
      for (const p of todo) {
        const m = await measureRetrying(p, s, opts, logsDir, round);
        runs.get(p.id)!.push(m.result);
        if (m.failure) failures.push(m.failure);
        if (interrupted()) break;
        logRun(p, s, m.result, opts, round, notes);
      }
    }
    for (const p of peers) {
      const r = fixed.get(p.id) ?? combineRounds(runs.get(p.id)!);
      if (r) results.push(r);
    }
  }
  for (const s of scenarioInfo.filter((i) => i.skipped)) {
    for (const p of peers) results.push({ peer: p.id, scenario: s.id, status: 'skipped', reason: s.skipped! });
  }

  computeRatios(results);
  if (opts.strict) {
    for (const p of peerInfo.filter((i) => !i.available)) failures.push(`--strict: peer ${p.id} did not run: ${p.reason}`);
    for (const s of scenarioInfo.filter((i) => i.skipped)) failures.push(`--strict: scenario ${s.id} did not run: ${s.skipped}`);
  }
  const report: BenchReport = {
    schema: 1,
    tool: 'pyhost bench (HTTP)',
    machine,
    config: {
      quick: opts.quick,
      durationSec: opts.durationSec,
      warmupSec: opts.warmupSec,
      connections: opts.connections,
      wrkThreads: opts.threads,
      rounds: opts.rounds,
      command: ['bench/run.ts', ...process.argv.slice(2)].join(' '),
    },
    peers: peerInfo,
    scenarios: scenarioInfo,
    results,
    failures,
    notes,
    elapsedSec: Math.round((Date.now() - t0) / 100) / 10,
  };
  const order = PEERS.map((p) => p.id);
  const md = renderMarkdown(report, order);
  fs.writeFileSync(path.join(opts.outDir, 'results.json'), JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(path.join(opts.outDir, 'results.md'), `# pyhost HTTP bench results\n\n${md}\n`);
  fs.writeFileSync(path.join(opts.outDir, 'results.svg'), renderSvg(report, order));
  if (opts.updateReadme) updateReadme('results', `${md.trim()}\n\n![requests/s per peer](${path.relative(BENCH_DIR, path.join(opts.outDir, 'results.svg'))})`);

  log(renderText(report, order));
  log(`\n[bench] wrote ${['results.json', 'results.md', 'results.svg'].map((f) => path.join(opts.outDir, f)).join(', ')} in ${elapsed()}`);
  const microCode = opts.micro && !interrupted() ? await microPart(opts) : 0;
  if (failures.length > 0) {
    loud([`${failures.length} FAILURE(S): these numbers must not be used`, ...failures.map((f) => `- ${f.split('\n')[0]}`)]);
    return 1;
  }
  return microCode;
}

/** The microbenchmarks: micro.md (+ the README section); 1 when a suite failed. */
async function microPart(opts: BenchOptions): Promise<number> {
  log(`\n[bench] ${elapsed()} microbenchmarks`);
  const chartHref = path.relative(BENCH_DIR, path.join(opts.outDir, 'micro-scaling.svg'));
  const m = await runMicro({ quick: opts.quick, outDir: opts.outDir, waitIdleSec: opts.waitIdleSec, chartHref }, log);
  const machine = `Machine: ${new Date().toISOString()} · ${os.cpus().length} cores ${os.cpus()[0]?.model ?? ''} · Node ${process.version} · Python ${m.version} (${m.python})`;
  const md = `${machine}\n\n${m.markdown}`;
  fs.writeFileSync(path.join(opts.outDir, 'micro.md'), `# pyhost microbenchmark results\n\n${md}\n`);
  if (opts.updateReadme && m.markdown) updateReadme('micro', md);
  log(`[bench] wrote ${path.join(opts.outDir, 'micro.md')} in ${elapsed()}`);
  if (m.failures.length) {
    loud([`${m.failures.length} MICROBENCHMARK FAILURE(S)`, ...m.failures.flatMap((f) => f.split('\n'))]);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    loud([`bench crashed: ${(e as Error).stack ?? String(e)}`]);
    process.exit(1);
  },
);
