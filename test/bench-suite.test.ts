/**
 * The benchmark suite as a product: `pyhost bench APP` compares group kinds on a user's app and
 * recommends one; the HTTP bench fails loudly on a wrong body (a stand-in server) and passes on
 * the real CLI; the gateway and scaling microbenchmarks produce their results. These check that
 * the suite runs and judges correctly, never how fast anything is.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runNode, tail } from './helpers/run-node.js';
import { PY311, PY313, pythonMissing } from './helpers/pythons.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-bench-test-'));
test.after.always(() => fs.rmSync(root, { recursive: true, force: true }));

const missing313 = pythonMissing(PY313);

(missing313 ? test.skip : test)('pyhost bench APP: a row per group kind, and the recommendation names the extension that forced %{GLOBAL}', async (t) => {
  const app = path.join(root, 'single_phase_app.wsgi');
  fs.writeFileSync(
    app,
    'import _testsinglephase\n\ndef application(environ, start_response):\n    start_response("200 OK", [("Content-Type", "text/plain")])\n    return [b"ok"]\n',
  );
  const r = await runNode(['bin/pyhost.js', 'bench', app, '--python', PY313, '--duration', '1', '--connections', '4', '--kinds', 'global,own']);
  t.is(r.code, 0, tail(r));
  const row = (label: string) => r.stdout.split('\n').find((l) => l.startsWith(label));
  for (const label of ['%{GLOBAL}', 'own-GIL sub-interpreters x2']) {
    const cells = row(label)?.slice(label.length).trim().split(/\s+/) ?? [];
    t.true(Number(cells[0]) > 0, `${label}: requests/s in ${JSON.stringify(row(label))}\n${r.stdout}`);
    t.is(cells[3], '0', `${label}: errors column\n${r.stdout}`);
  }
  t.regex(row('own-GIL sub-interpreters x2') ?? '', /_testsinglephase forced %\{GLOBAL\}/);
  t.regex(r.stdout, /^recommendation: .* is fastest for this app .*_testsinglephase forced %\{GLOBAL\} in the own-GIL sub-interpreters x2 run/m);
});

test('pyhost bench with a missing script is a clear error, not a run', async (t) => {
  const r = await runNode(['bin/pyhost.js', 'bench', path.join(root, 'nope.wsgi')]);
  t.not(r.code, 0);
  t.regex(r.output, /WSGI script .*nope\.wsgi does not exist/);
});

test('the HTTP bench fails loudly when a server answers a wrong body, naming peer and scenario', async (t) => {
  // A stand-in "pyhost CLI" whose server answers 13 wrong bytes (right status, length and type).
  const standIn = path.join(root, 'wrong-cli.mjs');
  fs.writeFileSync(
    standIn,
    `import http from 'node:http';
const a = process.argv.slice(2);
if (a.includes('--help')) { console.log('start-server SCRIPT --port --host --threads --processes --python'); process.exit(0); }
const port = Number(a[a.indexOf('--port') + 1]);
http.createServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '13' }); res.end('Hello, World?'); })
  .listen(port, a[a.indexOf('--host') + 1] || '127.0.0.1');
`,
  );
  const out = path.join(root, 'wrong');
  const r = await runNode(['--import', 'tsx', 'bench/run.ts', '--only', 'pyhost-embedded', '--scenarios', 'hello', '--duration', '1', '--warmup', '1', '--out', out], {
    PYHOST_BENCH_CLI: standIn,
  });
  t.is(r.code, 1, tail(r));
  t.regex(r.output, /FAILURE/);
  t.regex(r.output, /pyhost-embedded/);
  t.regex(r.output, /body/i);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as { results: { peer: string; scenario: string; status: string }[] };
  t.deepEqual(
    report.results.map((x) => [x.peer, x.scenario, x.status]),
    [['pyhost-embedded', 'hello', 'failed']],
  );
});

(pythonMissing(PY311) ? test.skip : test)('the HTTP bench measures the real pyhost CLI: checked responses, tables and chart written', async (t) => {
  const out = path.join(root, 'real');
  const r = await runNode(['--import', 'tsx', 'bench/run.ts', '--only', 'pyhost-embedded', '--scenarios', 'hello', '--duration', '1', '--warmup', '1', '--out', out]);
  t.is(r.code, 0, tail(r));
  const report = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as {
    results: { peer: string; status: string; requestsPerSec?: number; errors?: number }[];
    machine: { cores: number };
  };
  const res = report.results.find((x) => x.peer === 'pyhost-embedded');
  t.is(res?.status, 'ok', JSON.stringify(res));
  t.true((res?.requestsPerSec ?? 0) > 0);
  t.true(report.machine.cores > 0);
  t.regex(fs.readFileSync(path.join(out, 'results.md'), 'utf8'), /\| pyhost embedded \| [\d,]+ \|/);
  t.regex(fs.readFileSync(path.join(out, 'results.svg'), 'utf8'), /^<svg /);
  t.false(fs.existsSync(path.join(out, 'micro.md')), '--only implies --no-micro');
});

(missing313 ? test.skip : test)('micro/gateway: no-op requests through the gateway per group kind, next to a bare call', async (t) => {
  const out = path.join(root, 'gateway.json');
  const r = await runNode(['--import', 'tsx', 'bench/micro/gateway.ts', '--quick', '--python', PY313, '--out', out]);
  t.is(r.code, 0, tail(r));
  const run313 = Object.values((JSON.parse(fs.readFileSync(out, 'utf8')) as { runs: Record<string, { kinds: Record<string, any> }> }).runs)[0];
  t.deepEqual(Object.keys(run313.kinds).sort(), ['global', 'own', 'shared']);
  for (const [kind, k] of Object.entries(run313.kinds)) {
    t.true(k.noopRequest.medianUs > 0 && k.evalRoundTrip.medianUs > 0, kind);
    t.true(Number.isFinite(k.gatewayOverheadUs) && Number.isFinite(k.perHeaderUs), kind);
    t.true(k.throughput.requestsPerSec > 0, kind);
  }
  t.regex(r.stdout, /\| no-op WSGI request round trip, median µs/);
});

(missing313 ? test.skip : test)('micro/scaling: 1, 2, 4 units in shared-GIL groups, own-GIL groups and daemon processes; daemon memory; chart', async (t) => {
  const out = path.join(root, 'scaling.json');
  const svg = path.join(root, 'scaling.svg');
  const r = await runNode(['--import', 'tsx', 'bench/micro/scaling.ts', '--quick', '--python', PY313, '--out', out, '--svg', svg]);
  t.is(r.code, 0, tail(r));
  const res = Object.values((JSON.parse(fs.readFileSync(out, 'utf8')) as { runs: Record<string, any> }).runs)[0];
  t.deepEqual(Object.keys(res.kinds).sort(), ['daemon', 'own', 'shared']);
  for (const [kind, points] of Object.entries(res.kinds) as [string, { units: number; speedup: number; coresUsed: number; medianMs: number }[]][]) {
    t.deepEqual(
      points.map((p) => p.units),
      [1, 2, 4],
      kind,
    );
    t.is(points[0].speedup, 1, kind);
    for (const p of points) t.true(p.medianMs > 0 && Number.isFinite(p.speedup) && p.coresUsed > 0, `${kind} ${JSON.stringify(p)}`);
    // One unit runs on one thread: its CPU time over its wall time cannot exceed one core.
    t.true(points[0].coresUsed <= 1.05, `${kind}: one unit used ${points[0].coresUsed} cores`);
  }
  t.is(res.daemonProcessMemory.processes.length, 4);
  t.true(res.daemonProcessMemory.meanRssMiB > 1 && res.daemonProcessMemory.meanPssMiB > 0);
  t.regex(fs.readFileSync(svg, 'utf8'), /^<svg [\s\S]*daemon processes[\s\S]*<\/svg>/);
});
