/**
 * The harness on Debian's Python 3.11 (shared-GIL tenants: no per-interpreter GIL before 3.12), in
 * tenant host processes: tenant.request against a Flask app, per-tenant state, and preflight of
 * single-phase extensions (one compiled by the test, and Debian's numpy) without crashing.
 */
import test from 'ava';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Harness } from '../ts/harness/index.js';
import { buildSinglePhaseExtension } from './helpers/extension.js';
import { PY311, skipUnlessPython } from './helpers/pythons.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'harness');
const skip = skipUnlessPython(test, PY311, 'harness on Python 3.11');
const maybe = skip ? test.skip : test;
let harness: Harness;

test.before(async () => {
  if (skip) return;
  harness = await Harness.start({ python: PY311, pool: 2, engine: { logger: () => {} } });
});
test.after.always(async () => {
  await harness?.close();
});

maybe('on 3.11 tenants default to shared-GIL sub-interpreters; own GIL is a clear error', async (t) => {
  t.is(harness.gil, 'shared');
  await t.throwsAsync(Harness.start({ python: PY311, gil: 'own' }), { code: 'ERR_OWN_GIL_UNSUPPORTED' });
});

maybe('tenant.request serves a Flask app in each tenant, with separate state', async (t) => {
  const a = await harness.tenant('flask-a', { pythonPath: [FIXTURES] });
  const b = await harness.tenant('flask-b', { pythonPath: [FIXTURES] });
  await a.run('import flaskapp\nflaskapp.app.config["TENANT"] = "a"');
  await b.run('import flaskapp\nflaskapp.app.config["TENANT"] = "b"');
  const r1 = await a.request('flaskapp:app', { path: '/' });
  const r2 = await a.request('flaskapp:app', { path: '/' });
  const r3 = await b.request('flaskapp:app', { path: '/' });
  t.is(r1.status, 200);
  t.is(r1.body.toString(), 'hello from tenant a, hit 1');
  t.is(r2.body.toString(), 'hello from tenant a, hit 2');
  t.is(r3.body.toString(), 'hello from tenant b, hit 1');
  const echo = await b.request('flaskapp:app', { method: 'POST', path: '/echo?q=1', headers: { 'X-Test': 'h', 'Content-Type': 'text/plain' }, body: 'data!' });
  t.is(echo.status, 200);
  t.deepEqual(JSON.parse(echo.body.toString()), { method: 'POST', data: 'data!', query: { q: '1' }, header: 'h' });
  const nf = await a.request('flaskapp:app', { path: '/nope' });
  t.is(nf.status, 404);
  await Promise.all([a.close(), b.close()]);
});

maybe('preflight routes a single-phase extension (compiled by the test) to %{GLOBAL}', (t) =>
  (async () => {
    const ext = buildSinglePhaseExtension(PY311);
    const tn = await harness.tenant('ext', { pythonPath: [ext.dir], requires: [ext.module] });
    t.is(tn.placement, 'global');
    t.regex(tn.fallbackReason ?? '', new RegExp(ext.module));
    t.is((await tn.run(`import ${ext.module}\n${ext.module}.__name__`)).value, ext.module);
    await tn.close();
  })(),
);

maybe('a timeout interrupts a tenant on 3.11 too', async (t) => {
  const tn = await harness.tenant('spin311');
  const r = await tn.run('while True: pass', { timeout: 200 });
  t.is(r.error?.code, 'TIMEOUT');
  t.is((await tn.run('6 * 7')).value, 42);
  await tn.close();
});

for (const isolation of ['process', 'interpreter'] as const) {
  maybe(`[${isolation}] requires numpy (Debian's, single-phase on 3.11): the tenant goes to %{GLOBAL} and numpy works there`, async (t) => {
    const h = isolation === 'process' ? harness : await Harness.start({ python: PY311, isolation, pool: 0, engine: { logger: () => {} } });
    try {
      const tn = await h.tenant(`numpy-${isolation}`, { requires: ['numpy'] });
      t.is(tn.placement, 'global');
      t.regex(tn.fallbackReason ?? '', /numpy/);
      t.is((await tn.run('import numpy\nint(numpy.arange(10).sum())')).value, 45);
      // Another tenant goes on in its sub-interpreter.
      const other = await h.tenant(`plain-${isolation}`);
      t.is((await other.run('1 + 1')).value, 2);
      await Promise.all([tn.close(), other.close()]);
    } finally {
      if (h !== harness) await h.close();
    }
  });
}
