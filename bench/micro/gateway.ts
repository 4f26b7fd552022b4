/**
 * In-process microbenchmarks of the WSGI gateway (issue 5): what a request costs pyhost beyond
 * the Python call itself, per group kind, with no socket and no HTTP parsing in the way.
 *
 *   1. Dispatch overhead: round trip of a request to a no-op WSGI app (environ built, app called,
 *      start_response, the empty response handed back to JS), next to group.eval("1") (a bare call
 *      into the same group): the difference is the gateway's own cost per request.
 *   2. Environ construction: the same request with 40 more headers; the slope is the cost per
 *      header (each one an HTTP_* key built in C++).
 *   3. Requests per second with 256 requests in flight (the worker pool kept busy).
 *
 * Usage: node --import tsx bench/micro/gateway.ts [--python PATH] [--quick] [--wait-idle SEC] [--out FILE]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine, type Group, type GroupOptions } from '../../ts/index.js';
import { EmbeddedBackend } from '../../ts/http/embedded.js';
import { requestInProcess, type InProcessRequest } from '../../ts/http/in-process.js';
import { inFlightRate, microArgs, resultHeader, latencyStats, log, markdownTable, round, saveRun, timeSequential, waitIdle } from './common.js';

const args = microArgs('gateway');
const quick = args.quick;
const EXTRA_HEADERS = 40;
const ROUNDS = 10;

const NOOP_APP = `def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '0')])
    return []
`;

interface Kind {
  id: 'global' | 'shared' | 'own';
  label: string;
  name: string;
  options?: GroupOptions;
}

/** One request; anything but an empty 200 fails the benchmark (a fast wrong answer never counts). */
async function checked(backend: EmbeddedBackend, group: Group, req: InProcessRequest): Promise<void> {
  const r = await requestInProcess(backend, group.name, req);
  if (r.status !== 200 || r.body.length !== 0 || r.aborted) {
    throw new Error(`no-op app in ${group.name}: expected an empty 200, got ${r.status} ${r.reason} (${r.body.length} bytes): ${r.body.toString().slice(0, 300)}`);
  }
}

async function main(): Promise<void> {
  const hostBusyPctAtStart = await waitIdle(args.waitIdleSec);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-gateway-'));
  const script = path.join(dir, 'noop.wsgi');
  fs.writeFileSync(script, NOOP_APP);
  const engine = await Engine.start({ python: args.python, logger: () => {} });
  const [maj, min] = engine.pythonVersion.split('.').map(Number);
  const kinds: Kind[] = [
    { id: 'global', label: '%{GLOBAL}', name: '%{GLOBAL}' },
    { id: 'shared', label: 'shared-GIL sub-interpreter', name: 'gw-shared', options: { gil: 'shared' } },
  ];
  if (maj > 3 || (maj === 3 && min >= 12)) kinds.push({ id: 'own', label: 'own-GIL sub-interpreter', name: 'gw-own', options: { gil: 'own' } });
  log(`pyhost micro/gateway: Python ${engine.pythonVersion} (${engine.python}), ${os.cpus().length} cores${quick ? ', --quick' : ''}`);

  const samples = quick ? 4000 : 20000;
  const plain: InProcessRequest = { headers: { Host: 'localhost' } };
  const many: InProcessRequest = {
    headers: [['Host', 'localhost'], ...Array.from({ length: EXTRA_HEADERS }, (_, i): [string, string] => [`X-Bench-Header-${i}`, `value-${i}-abcdefghijklmnop`])],
  };
  const perKind: Record<string, Record<string, unknown>> = {};
  for (const k of kinds) {
    const group = engine.group(k.name, k.options);
    const backend = new EmbeddedBackend(engine.native, () => group, { target: script, isModule: false, callable: 'application', reload: false });
    await checked(backend, group, plain);
    log(`${k.label}: round trips...`);
    // Interleaved in rounds, so a drift in the machine's state affects the three alike.
    const evalMs: number[] = [];
    const plainMs: number[] = [];
    const manyMs: number[] = [];
    await timeSequential(() => checked(backend, group, many), 1000);
    for (let round = 0; round < ROUNDS; round++) {
      evalMs.push(...(await timeSequential(() => group.eval('1'), samples / ROUNDS, 200)));
      plainMs.push(...(await timeSequential(() => checked(backend, group, plain), samples / ROUNDS, 200)));
      manyMs.push(...(await timeSequential(() => checked(backend, group, many), samples / ROUNDS, 200)));
    }
    log(`${k.label}: throughput (256 in flight)...`);
    const { perSec, ...rest } = await inFlightRate(() => checked(backend, group, plain), 256, quick ? 1 : 3);
    const tput = { requestsPerSec: perSec, ...rest };
    const e = latencyStats(evalMs);
    const p = latencyStats(plainMs);
    const m = latencyStats(manyMs);
    perKind[k.id] = {
      evalRoundTrip: e,
      noopRequest: p,
      noopRequest40Headers: m,
      gatewayOverheadUs: round(p.medianUs - e.medianUs, 2),
      perHeaderUs: round((m.medianUs - p.medianUs) / EXTRA_HEADERS, 3),
      throughput: tput,
    };
  }
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const result = {
    ...resultHeader(engine, hostBusyPctAtStart, quick),
    extraHeaders: EXTRA_HEADERS,
    kinds: perKind,
  };
  const get = (id: string, f: (r: Record<string, any>) => unknown) => String(f(perKind[id] as Record<string, any>));
  const rows: string[][] = [['measure', ...kinds.map((k) => k.label)]];
  rows.push(['group.eval("1") round trip, median µs', ...kinds.map((k) => get(k.id, (r) => r.evalRoundTrip.medianUs))]);
  rows.push(['no-op WSGI request round trip, median µs', ...kinds.map((k) => get(k.id, (r) => r.noopRequest.medianUs))]);
  rows.push(['  p99 µs', ...kinds.map((k) => get(k.id, (r) => r.noopRequest.p99Us))]);
  rows.push(['gateway cost per request (request - eval), µs', ...kinds.map((k) => get(k.id, (r) => r.gatewayOverheadUs))]);
  rows.push([`environ: cost per header (+${EXTRA_HEADERS} headers), µs`, ...kinds.map((k) => get(k.id, (r) => r.perHeaderUs))]);
  rows.push(['no-op requests/s, 256 in flight', ...kinds.map((k) => get(k.id, (r) => r.throughput.requestsPerSec))]);
  console.log(`\npyhost micro/gateway — Python ${engine.pythonVersion}, ${os.cpus().length} cores; host ${hostBusyPctAtStart}% busy at start`);
  console.log(markdownTable(rows));
  saveRun(args.out, engine.pythonVersion, result);
  console.log(`\nwritten: ${path.relative(process.cwd(), args.out)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
