/**
 * Metrics and health (issue 20), scraped over HTTP and read as the Prometheus text format:
 * `pyhost start-server --metrics PATH --health PATH` in embedded mode, `--metrics-port` in daemon
 * mode (restarts counted when a daemon process dies), and the Engine API (engine.metrics(),
 * healthy()) for refusals, call timeouts, fallbacks and a group that cannot take work.
 */
import test from 'ava';
import http from 'node:http';
import { Engine, type LogRecord } from '../ts/index.js';
import { request } from './helpers/http.js';
import { startCli, waitUntil, EVENT_TIMEOUT, childPids, cmdline, pidAlive } from './helpers/daemon.js';
import { parseExposition } from './helpers/prometheus.js';
import { PY313, skipUnlessPython } from './helpers/pythons.js';
import { fixture, serve } from './helpers/wsgi-server.js';

const APP = fixture('hostile_app.wsgi');

test('start-server --metrics and --health (embedded): requests by status class, latency, queue depth; health 200', async (t) => {
  const cli = await startCli([APP, '--metrics', '/metrics', '--health', '/healthz']);
  try {
    for (let i = 0; i < 5; i++) t.is((await request(`${cli.url}/`)).status, 200);
    const health = await request(`${cli.url}/healthz`);
    t.is(health.status, 200);
    t.is(health.text(), 'ok\n');
    const scrape = await request(`${cli.url}/metrics`);
    t.is(scrape.status, 200);
    t.regex(String(scrape.headers['content-type']), /text\/plain; version=0\.0\.4/);
    const m = parseExposition(scrape.text());
    t.is(m.types.get('pyhost_requests_total'), 'counter');
    t.is(m.types.get('pyhost_request_duration_seconds'), 'histogram');
    t.is(m.value('pyhost_requests_total', { group: '%{GLOBAL}', process_group: '', status_class: '2xx' }), 5);
    t.is(m.value('pyhost_request_duration_seconds_count', { group: '%{GLOBAL}', process_group: '' }), 5);
    t.is(m.value('pyhost_queue_depth', { group: '%{GLOBAL}', process_group: '' }), 0);
    t.true(m.help.get('pyhost_requests_total')!.length > 10);
    // The endpoints are not requests of the application.
    t.is(m.value('pyhost_requests_total', { group: '%{GLOBAL}', process_group: '', status_class: '4xx' }), undefined);
  } finally {
    cli.kill();
  }
});

test('start-server --processes 1 --metrics-port: the daemon group counts requests and a restart after a crash', async (t) => {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const metricsPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const cli = await startCli([APP, '--processes', '1', '--threads', '2', '--metrics-port', String(metricsPort)]);
  try {
    for (let i = 0; i < 3; i++) t.is((await request(`${cli.url}/`)).status, 200);
    const scrape = async () => parseExposition((await request(`http://127.0.0.1:${metricsPort}/metrics`)).text());
    let m = await scrape();
    const pg = [...new Set(m.samples.filter((s) => s.name === 'pyhost_requests_total').map((s) => s.labels.process_group))];
    t.is(pg.length, 1);
    t.is(m.value('pyhost_requests_total', { group: '%{GLOBAL}', process_group: pg[0], status_class: '2xx' }), 3);
    t.is(m.value('pyhost_daemon_processes_ready', { process_group: pg[0] }), 1);
    t.is((await request(`http://127.0.0.1:${metricsPort}/health`)).status, 200);
    // Kill the daemon process: the group restarts it, and says so.
    const daemons = childPids(cli.child.pid!).filter((p) => pidAlive(p) && /pyhost-daemon/.test(cmdline(p)[0] ?? ''));
    t.is(daemons.length, 1);
    process.kill(daemons[0], 'SIGKILL');
    await waitUntil(async () => ((await scrape()).value('pyhost_daemon_restarts_total', { process_group: pg[0], reason: 'crash' }) ?? 0) >= 1,
      EVENT_TIMEOUT, 'a restart counted');
    await waitUntil(async () => (await request(`http://127.0.0.1:${metricsPort}/health`)).status === 200, EVENT_TIMEOUT, 'healthy again');
    m = await scrape();
    t.is(m.value('pyhost_daemon_processes_ready', { process_group: pg[0] }), 1);
  } finally {
    cli.kill();
  }
});

const skip313 = skipUnlessPython(test, PY313, 'engine metrics on 3.13');

(skip313 ? test.skip : test)('engine.metrics(): refusals, call timeouts and fallbacks; healthy() and --health say 503 when a group cannot take work', async (t) => {
  const logs: LogRecord[] = [];
  const engine = await Engine.start({ python: PY313, metrics: true, logger: (r) => logs.push(r) });
  try {
    const g = engine.group('busy', { threads: 1, queueLimit: 0 });
    const sleeper = g.exec('import time\ntime.sleep(0.5)');
    await new Promise((r) => setTimeout(r, 50));
    t.false(engine.healthy().ok);
    t.deepEqual(engine.healthy().problems, ['group busy: queue full']);
    const server = await serve((req, res) => {
      res.end('app');
    });
    const { withOpsEndpoints } = await import('../ts/http/ops-endpoints.js');
    const ops = await serve(withOpsEndpoints(engine, { health: '/healthz', metrics: '/metrics' }, (req, res) => res.end('next')));
    try {
      const h = await request(`${ops.url}/healthz`);
      t.is(h.status, 503);
      t.regex(h.text(), /group busy: queue full/);
      t.is((await request(`${ops.url}/other`)).text(), 'next');
    } finally {
      await server.close();
      await ops.close();
    }
    await sleeper;
    t.true(engine.healthy().ok);
    // A call past its timeout.
    const t2 = engine.group('timeouts', { gil: 'own', threads: 1 });
    const err = await t.throwsAsync(t2.exec('while True: pass', { timeout: 100 }));
    t.is((err as { code?: string }).code, 'ERR_TIMEOUT');
    // A group that moves to %{GLOBAL}.
    const f = engine.group('falls', { gil: 'own' });
    t.is(await f.eval('__import__("_testsinglephase").__name__'), '_testsinglephase');
    const m = parseExposition(await engine.metrics());
    t.is(m.value('pyhost_timeouts_total', { group: 'timeouts', process_group: '', kind: 'call' }), 1);
    t.is(m.value('pyhost_fallbacks_total', { group: 'falls', process_group: '' }), 1);
    t.is(m.value('pyhost_running', { group: 'busy', process_group: '' }), 0);
    const off = await Engine.start({ python: PY313, logger: () => {} });
    await t.throwsAsync(off.metrics(), { code: 'ERR_METRICS_OFF' });
    await off.close();
  } finally {
    await engine.close();
  }
});
