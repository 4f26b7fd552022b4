/**
 * `bench/run.ts --rounds N`: the interleaving order, the median and which round the other fields
 * come from, ratios from the medians, the min–max column (absent with one round), and the real
 * bench run in rounds against bare Node and a stand-in pyhost CLI: every round's req/s kept, the
 * median reported, peers interleaved, and a wrong body in a later round still failing the run.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runNode, tail } from './helpers/run-node.js';
import { parseBenchArgs } from '../bench/lib/args.js';
import { combineRounds, median, medianIndex, roundOrder } from '../bench/lib/rounds.js';
import { computeRatios, renderMarkdown, renderText, type BenchReport, type RunResult } from '../bench/lib/report.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-bench-rounds-'));
test.after.always(() => fs.rmSync(root, { recursive: true, force: true }));

// ---- pure parts ---------------------------------------------------------------------------------

test('rounds alternate the peer order: A B C, C B A, A B C, C B A', (t) => {
  const peers = ['A', 'B', 'C'];
  t.deepEqual(
    [0, 1, 2, 3].map((i) => roundOrder(peers, i).join(' ')),
    ['A B C', 'C B A', 'A B C', 'C B A'],
  );
  t.deepEqual(peers, ['A', 'B', 'C'], 'the input is not reversed in place');
});

test('median: the middle value, the mean of the two middle ones for an even count; medianIndex: which round', (t) => {
  t.is(median([5]), 5);
  t.is(median([30, 10, 20]), 20);
  t.is(median([40, 10, 30, 20]), 25);
  t.is(median([2, 1]), 1.5);
  t.throws(() => median([]));
  t.is(medianIndex([10, 40, 30]), 2);
  t.is(medianIndex([40, 10, 30, 20]), 2, 'middle values 20 (index 3) and 30 (index 2): the earlier');
  t.is(medianIndex([20, 10]), 0);
  t.is(medianIndex([7, 7, 7]), 1, 'equal values: the middle round');
  t.throws(() => medianIndex([]));
});

const ok = (peer: string, rps: number, p50: number): RunResult => ({
  peer,
  scenario: 'hello',
  status: 'ok',
  requestsPerSec: rps,
  latencyMs: { p50, p75: p50, p90: p50, p99: p50 * 2, max: p50 * 3, mean: p50, stdev: 0 },
  errors: { connect: 0, read: 0, write: 0, timeout: 0, non2xx: 0, mismatches: 0 },
  cpu: { serverPct: rps / 1000, benchPct: 10, othersPct: 0 },
});

test('combineRounds: median req/s, every round kept, other fields from the median round', (t) => {
  const r = combineRounds([ok('node', 30_000, 1), ok('node', 10_000, 3), ok('node', 18_000, 2)])!;
  t.is(r.status, 'ok');
  t.is(r.requestsPerSec, 18_000);
  t.deepEqual(r.rounds, [30_000, 10_000, 18_000]);
  t.is(r.medianRound, 3);
  t.is(r.latencyMs!.p50, 2, 'latency of the median round, not of another one');
  t.is(r.cpu!.serverPct, 18);

  const even = combineRounds([ok('node', 40_000, 1), ok('node', 10_000, 3), ok('node', 26_000, 1.5), ok('node', 20_000, 2)])!;
  t.is(even.requestsPerSec, 23_000);
  t.is(even.medianRound, 3, 'the two middle rounds (3 and 4) are equally near their mean: the earlier one');
  t.is(even.latencyMs!.p50, 1.5);

  const one = combineRounds([ok('node', 12_345, 1)])!;
  t.is(one.requestsPerSec, 12_345);
  t.deepEqual(one.rounds, [12_345]);
  t.is(combineRounds([]), undefined);
});

test('combineRounds: a failed round is the result, whatever the other rounds measured', (t) => {
  const failed: RunResult = { peer: 'pyhost-embedded', scenario: 'hello', status: 'failed', reason: '3 of 9 responses were wrong' };
  t.is(combineRounds([ok('pyhost-embedded', 20_000, 1), failed]), failed);
  t.is(combineRounds([failed, ok('pyhost-embedded', 20_000, 1), ok('pyhost-embedded', 20_000, 1)]), failed);
});

function report(results: RunResult[], rounds: number): BenchReport {
  const peers = [
    ['node', 'bare Node http'],
    ['pyhost-embedded', 'pyhost embedded'],
    ['apache-embedded', 'mod_wsgi embedded'],
  ].map(([id, label]) => ({ id: id!, label: label!, setup: '', available: true, versions: {} }));
  return {
    schema: 1,
    tool: 'pyhost bench (HTTP)',
    machine: { date: '2026-01-01T00:00:00.000Z', os: 'test', kernel: 'k', cores: 2, cpuModel: 'cpu', memoryGiB: 1, node: 'v20', pythons: {}, wrk: 'wrk', loadAverageAtStart: [0, 0, 0] },
    config: { quick: false, durationSec: 10, warmupSec: 3, connections: 32, wrkThreads: 2, rounds, command: 'bench/run.ts' },
    peers,
    scenarios: [{ id: 'hello', title: 'Hello world', method: 'GET', requestBytes: 0, responseBytes: 13 }],
    results,
    failures: [],
    notes: [],
    elapsedSec: 1,
  };
}

test('ratios come from the medians, and the tables show each peer’s min–max', (t) => {
  const results = [
    combineRounds([ok('node', 30_000, 1), ok('node', 20_000, 1), ok('node', 24_000, 1)])!,
    combineRounds([ok('pyhost-embedded', 9_000, 2), ok('pyhost-embedded', 18_000, 2), ok('pyhost-embedded', 12_000, 2)])!,
    combineRounds([ok('apache-embedded', 6_000, 4), ok('apache-embedded', 4_000, 4), ok('apache-embedded', 5_000, 4)])!,
  ];
  computeRatios(results);
  const pyhost = results[1]!;
  t.is(pyhost.vsNode, 12_000 / 24_000);
  t.is(pyhost.vsModWsgi, 12_000 / 5_000);

  const text = renderText(report(results, 3), ['node', 'pyhost-embedded', 'apache-embedded']);
  t.regex(text, /^ {2}peer +req\/s +min–max \(3 rounds\) +p50 +p99 +errors +vs mod_wsgi +vs uWSGI +vs Node$/m);
  t.regex(text, /^ {2}pyhost embedded +12,000 +9,000–18,000 +2\.0 ms +4\.0 ms +0 +2\.40x +– +0\.50x$/m);
  const md = renderMarkdown(report(results, 3), ['node', 'pyhost-embedded', 'apache-embedded']);
  t.regex(md, /^\| peer \| requests\/s \| min–max \| p50 \| p99 \| errors \| vs mod_wsgi \| vs uWSGI \| vs Node \|$/m);
  t.regex(md, /^\| pyhost embedded \| 12,000 \| 9,000–18,000 \| 2\.0 ms \| 4\.0 ms \| 0 \| 2\.40x \| – \| 0\.50x \|$/m);
  t.regex(md, /Each peer ran 3 rounds/);
  // A failed peer's row keeps the column count of the header.
  const failedRow = renderMarkdown(report([...results, { peer: 'apache-embedded', scenario: 'hello', status: 'failed', reason: 'wrong body' }], 3), []);
  const row = failedRow.split('\n').find((l) => l.includes('**FAILED**'))!;
  t.is(row.split('|').length, '| peer | requests/s | min–max | p50 | p99 | errors | vs mod_wsgi | vs uWSGI | vs Node |'.split('|').length, row);
});

test('with one round the tables are those of a bench without --rounds (no min–max column)', (t) => {
  const results = [combineRounds([ok('node', 24_000, 1)])!, combineRounds([ok('pyhost-embedded', 12_000, 2)])!];
  computeRatios(results);
  const text = renderText(report(results, 1), ['node', 'pyhost-embedded']);
  t.regex(text, /^ {2}peer +req\/s +p50 +p99 +errors +vs mod_wsgi +vs uWSGI +vs Node$/m);
  t.notRegex(text, /min–max|rounds/);
  const md = renderMarkdown(report(results, 1), ['node', 'pyhost-embedded']);
  t.regex(md, /^\| peer \| requests\/s \| p50 \| p99 \| errors \| vs mod_wsgi \| vs uWSGI \| vs Node \|$/m);
  t.regex(md, /^\| pyhost embedded \| 12,000 \| 2\.0 ms \| 4\.0 ms \| 0 \| – \| – \| 0\.50x \|$/m);
  t.notRegex(md, /min–max|rounds/);
});

test('--rounds: default 1, a whole number >= 1', (t) => {
  const ids = ['node'];
  const parse = (...a: string[]) => parseBenchArgs(a, ids);
  t.is((parse() as { rounds: number }).rounds, 1);
  t.is((parse('--quick') as { rounds: number }).rounds, 1);
  t.is((parse('--rounds', '3') as { rounds: number }).rounds, 3);
  t.throws(() => parse('--rounds', '0'), { message: /--rounds/ });
  t.throws(() => parse('--rounds', '1.5'), { message: /--rounds: expected a whole number/ });
  t.throws(() => parse('--rounds', 'many'), { message: /--rounds/ });
});

// ---- the real bench, in rounds ------------------------------------------------------------------

/**
 * A stand-in "pyhost CLI" serving hello. Every server start appends a byte to $STANDIN_STARTS;
 * from start number $STANDIN_WRONG_FROM on (if set), only the first request (the bench's
 * preflight) gets the right body and every later one 13 wrong bytes, so wrk's check catches it.
 */
function standIn(): string {
  const file = path.join(root, 'stand-in-cli.mjs');
  fs.writeFileSync(
    file,
    `import fs from 'node:fs';
import http from 'node:http';
const a = process.argv.slice(2);
if (a.includes('--help')) { console.log('start-server SCRIPT --port --host --threads'); process.exit(0); }
if (a.includes('--version')) { console.log('stand-in'); process.exit(0); }
fs.appendFileSync(process.env.STANDIN_STARTS, 'x');
const start = fs.readFileSync(process.env.STANDIN_STARTS).length;
const wrongFrom = Number(process.env.STANDIN_WRONG_FROM || Infinity);
let served = 0;
http.createServer((req, res) => {
  const body = start >= wrongFrom && served++ > 0 ? 'Hello, World?' : 'Hello, World!';
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '13' });
  res.end(body);
}).listen(Number(a[a.indexOf('--port') + 1]), a[a.indexOf('--host') + 1] || '127.0.0.1');
`,
  );
  return file;
}

interface Report {
  config: { rounds: number };
  results: { peer: string; scenario: string; status: string; reason?: string; requestsPerSec?: number; rounds?: number[]; medianRound?: number; vsNode?: number; logFile?: string }[];
  failures: string[];
}

/** "peer round" of every measured line, in the order the bench ran them. */
function measuredOrder(stdout: string): string[] {
  return [...stdout.matchAll(/^\[bench\] \d+s +(\S+) (\d+)\/\d+ +(?:[\d,]+ req\/s|FAILED)/gm)].map((m) => `${m[1]} ${m[2]}`);
}

test.serial('bench --rounds 2: peers interleaved, every round kept, requests/s is the median, ratios from it', async (t) => {
  const out = path.join(root, 'two');
  const starts = path.join(root, 'two-starts');
  const r = await runNode(
    ['--import', 'tsx', 'bench/run.ts', '--only', 'node,pyhost-embedded', '--scenarios', 'hello', '--rounds', '2', '--duration', '1', '--warmup', '1', '--out', out],
    { PYHOST_BENCH_CLI: standIn(), STANDIN_STARTS: starts },
  );
  t.is(r.code, 0, tail(r));
  t.deepEqual(measuredOrder(r.stdout), ['node 1', 'pyhost-embedded 1', 'pyhost-embedded 2', 'node 2'], r.stdout);
  t.is(fs.readFileSync(starts, 'utf8'), 'xx', 'the stand-in served two rounds');
  const report = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as Report;
  t.is(report.config.rounds, 2);
  t.deepEqual(
    report.results.map((x) => [x.peer, x.status]),
    [
      ['node', 'ok'],
      ['pyhost-embedded', 'ok'],
    ],
  );
  for (const res of report.results) {
    t.is(res.rounds?.length, 2, JSON.stringify(res));
    t.true(res.rounds!.every((x) => x > 0));
    t.is(res.requestsPerSec, (res.rounds![0]! + res.rounds![1]!) / 2, 'the median of two rounds is their mean');
    t.true([1, 2].includes(res.medianRound!));
    t.regex(res.logFile ?? '', new RegExp(`${res.peer}-hello-round${res.medianRound}\\.log$`));
  }
  const [node, pyhost] = report.results;
  t.is(pyhost!.vsNode, pyhost!.requestsPerSec! / node!.requestsPerSec!);
  for (const f of ['node-hello-round1.log', 'node-hello-round2.log', 'pyhost-embedded-hello-round1.log', 'pyhost-embedded-hello-round2.log']) {
    t.true(fs.existsSync(path.join(out, 'logs', f)), f);
  }
  t.regex(r.stdout, /min–max \(2 rounds\)/);
  t.regex(fs.readFileSync(path.join(out, 'results.md'), 'utf8'), /^\| pyhost embedded \| [\d,]+ \| [\d,]+–[\d,]+ \|/m);
});

test.serial('bench --rounds 3: a wrong body in round 2 fails the run naming peer, scenario and round; the peer is not measured again', async (t) => {
  const out = path.join(root, 'three');
  const starts = path.join(root, 'three-starts');
  const r = await runNode(
    ['--import', 'tsx', 'bench/run.ts', '--only', 'node,pyhost-embedded', '--scenarios', 'hello', '--rounds', '3', '--duration', '1', '--warmup', '1', '--out', out],
    { PYHOST_BENCH_CLI: standIn(), STANDIN_STARTS: starts, STANDIN_WRONG_FROM: '2' },
  );
  t.is(r.code, 1, tail(r));
  t.deepEqual(measuredOrder(r.stdout), ['node 1', 'pyhost-embedded 1', 'pyhost-embedded 2', 'node 2', 'node 3'], r.stdout);
  t.is(fs.readFileSync(starts, 'utf8'), 'xx', 'the failed peer was not started for round 3');
  t.regex(r.output, /FAILURE/);
  t.regex(r.output, /peer pyhost-embedded, scenario hello, round 2 of 3: .*responses were wrong/);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as Report;
  t.is(report.failures.length, 1, report.failures.join('\n'));
  t.regex(report.failures[0]!, /pyhost-embedded, scenario hello, round 2 of 3/);
  const pyhost = report.results.find((x) => x.peer === 'pyhost-embedded')!;
  t.is(pyhost.status, 'failed');
  t.regex(pyhost.reason ?? '', /responses were wrong/);
  const node = report.results.find((x) => x.peer === 'node')!;
  t.is(node.status, 'ok');
  t.is(node.rounds?.length, 3);
  t.is(node.requestsPerSec, [...node.rounds!].sort((a, b) => a - b)[1]);
  t.regex(fs.readFileSync(path.join(out, 'results.md'), 'utf8'), /^\| pyhost embedded \| \*\*FAILED\*\* \|/m);
});
