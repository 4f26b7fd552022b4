/**
 * The multi-tenant harness's behaviour in either isolation mode (registered by
 * harness-313.test.ts for both): isolation of module state, output capture, values and errors,
 * timeouts, reset, preflight, in-process requests, the os.environ view, the warm pool, bad input.
 */
import type { TestFn } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BASE_ENVIRONMENT, Harness, type HarnessOptions, type Tenant } from '../ts/harness/index.js';
import { skipUnlessPython } from './helpers/pythons.js';

export interface HarnessSuiteOptions {
  python: string;
  isolation: 'process' | 'interpreter';
}

export function registerHarnessSuite(test: TestFn, o: HarnessSuiteOptions): void {
  const skip = skipUnlessPython(test, o.python, `harness (${o.isolation})`);
  const maybe = skip ? test.skip : test;
  const title = (s: string) => `[${o.isolation}] ${s}`;
  const base: HarnessOptions = { python: o.python, isolation: o.isolation, gil: 'own', pool: 4, engine: { logger: () => {} } };
  let harness: Harness;

  test.before(async () => {
    if (skip) return;
    harness = await Harness.start(base);
  });
  test.after.always(async () => {
    await harness?.close();
  });

  maybe(title('tenants are isolated: module state, sys.path and __main__ are their own'), async (t) => {
    const a = await harness.tenant('iso-a', { files: { 'shared_name.py': 'VALUE = "from a"\nCOUNT = 0\n' } });
    const b = await harness.tenant('iso-b', { files: { 'shared_name.py': 'VALUE = "from b"\nCOUNT = 0\n' } });
    t.is((await a.run('import shared_name\nshared_name.COUNT += 1\nshared_name.VALUE')).value, 'from a');
    t.is((await b.run('import shared_name\nshared_name.VALUE')).value, 'from b');
    t.is((await a.run('shared_name.COUNT')).value, 1);
    t.is((await b.run('shared_name.COUNT')).value, 0);
    await a.run('secret = 42');
    t.is((await b.run("'secret' in globals()")).value, false);
    const pa = (await a.run('import sys\n[p for p in sys.path if "pyhost-harness" in p]')).value as string[];
    const pb = (await b.run('import sys\n[p for p in sys.path if "pyhost-harness" in p]')).value as string[];
    t.is(pa.length, 1);
    t.is(pb.length, 1);
    t.not(pa[0], pb[0]);
    t.is(a.placement, 'own');
    await Promise.all([a.close(), b.close()]);
  });

  maybe(title('stdout and stderr are captured per call: no byte crosses between concurrent tenants'), async (t) => {
    const tenants: Tenant[] = [];
    for (let i = 0; i < 6; i++) tenants.push(await harness.tenant(`out-${i}`));
    const results = await Promise.all(
      tenants.map((tn, i) => tn.run(`import sys\nfor k in range(300):\n    print("tenant-${i}", k)\n    print("err-${i}", k, file=sys.stderr)\n"done"`)),
    );
    results.forEach((r, i) => {
      t.is(r.value, 'done');
      const lines = r.stdout.trimEnd().split('\n');
      t.is(lines.length, 300);
      t.true(lines.every((l, k) => l === `tenant-${i} ${k}`), `tenant ${i} stdout has only its own lines`);
      const errLines = r.stderr.trimEnd().split('\n');
      t.true(errLines.every((l, k) => l === `err-${i} ${k}`), `tenant ${i} stderr has only its own lines`);
    });
    await Promise.all(tenants.map((tn) => tn.close()));
  });

  maybe(title('a run returns the final expression as JSON-able data; failures are r.error with a code, type, message and traceback'), async (t) => {
    const tn = await harness.tenant('values');
    t.deepEqual((await tn.run('x = {"a": (1, 2), "b": None}\nx')).value, { a: [1, 2], b: null });
    const bad = await tn.run('object()');
    t.is(bad.error?.code, 'EXCEPTION');
    t.is(bad.error?.type, 'TypeError');
    t.regex(bad.error!.message, /not JSON-able/);
    const err = await tn.run('import json\njson.loads("{")');
    t.is(err.error?.code, 'EXCEPTION');
    t.is(err.error?.type, 'json.decoder.JSONDecodeError');
    t.regex(err.error!.traceback, /line 2, in <module>/);
    t.notRegex(err.error!.traceback, /pyhost-tenant/, 'no harness frames');
    t.true(err.ms >= 0);
    const c = await tn.call('math:hypot', [3, 4]);
    t.is(c.value, 5);
    const kw = await tn.call('builtins:sorted', [[3, 1, 2]], { kwargs: { reverse: true } });
    t.deepEqual(kw.value, [3, 2, 1]);
    await tn.close();
  });

  maybe(title('while True: pass is stopped at its timeout with pyhost.TenantTimeout; tenant and harness go on'), async (t) => {
    const tn = await harness.tenant('spin');
    const other = await harness.tenant('spin-other');
    await tn.run('state = "before"');
    const [spun, meanwhile] = await Promise.all([tn.run('while True: pass', { timeout: 300 }), other.run('sum(range(1000))')]);
    t.is(spun.error?.code, 'TIMEOUT');
    t.is(spun.error?.type, 'pyhost.CallTimeout');
    t.regex(spun.error!.traceback, /<tenant>/, 'raised inside the tenant code');
    t.is(meanwhile.value, 499500);
    t.false(tn.quarantined);
    // The tenant kept its state and runs again; the interrupt did not leak into the next call.
    t.is((await tn.run('state')).value, 'before');
    t.is((await tn.run('sum(range(10))')).value, 45);
    // Code may catch it on purpose (to clean up) as pyhost.TenantTimeout: the call still timed out.
    const caught = await tn.run('import pyhost\ntry:\n    while True: pass\nexcept pyhost.TenantTimeout:\n    got = "cleaned up"\ngot', { timeout: 200 });
    t.is(caught.error?.code, 'TIMEOUT');
    t.is((await tn.run('got')).value, 'cleaned up');
    await Promise.all([tn.close(), other.close()]);
  });

  maybe(title('reset gives a fresh __main__ and fresh modules, keeping the files'), async (t) => {
    const tn = await harness.tenant('reset', { files: { 'm.py': 'N = 0\n' } });
    await tn.run('import m\nm.N = 5\nkept = 1');
    await tn.reset();
    t.is((await tn.run("'kept' in globals()")).value, false);
    t.is((await tn.run('import m\nm.N')).value, 0);
    await tn.close();
  });

  maybe(title('a single-phase extension (_testsinglephase) is routed by preflight, reported at creation'), async (t) => {
    const tn = await harness.tenant('needs-ext', { requires: ['_testsinglephase', 'json'] });
    t.is(tn.placement, 'global');
    t.regex(tn.fallbackReason ?? '', /_testsinglephase/);
    t.is((await tn.run('import _testsinglephase\n_testsinglephase.__name__')).value, '_testsinglephase');
    const plain = await harness.tenant('no-ext', { requires: ['json'] });
    t.is(plain.placement, 'own');
    t.is(plain.fallbackReason, undefined);
    await t.throwsAsync(harness.tenant('missing-ext', { requires: ['no_such_module_xyz'] }), { code: 'ERR_PREFLIGHT' });
    await Promise.all([tn.close(), plain.close()]);
  });

  maybe(title('preflight with fallback "shared" and "error"'), async (t) => {
    const shared = await Harness.start({ ...base, fallback: 'shared', pool: 0 });
    const tn = await shared.tenant('to-shared', { requires: ['_testsinglephase'] });
    t.is(tn.placement, 'shared');
    t.is((await tn.run('import _testsinglephase\n1')).value, 1);
    await shared.close();
    const strict = await Harness.start({ ...base, fallback: 'error', pool: 0 });
    await t.throwsAsync(strict.tenant('refused', { requires: ['_testsinglephase'] }), { code: 'ERR_EXTENSION_REFUSED', message: /_testsinglephase/ });
    await strict.close();
  });

  maybe(title('tenant.request calls a WSGI app through the gateway without a socket'), async (t) => {
    const tn = await harness.tenant('web', {
      files: {
        'webapp.py':
          'import time\n' +
          'def application(environ, start_response):\n' +
          '    if environ["PATH_INFO"] == "/slow":\n' +
          '        time.sleep(60)\n' +
          '    body = environ["wsgi.input"].read()\n' +
          '    out = ("%s %s?%s %s %s" % (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["QUERY_STRING"], environ.get("HTTP_X_TEST"), body.decode())).encode()\n' +
          '    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Tenant", "web")])\n' +
          '    return [out]\n' +
          'def solution_app(environ, start_response):\n' +
          '    start_response("200 OK", [])\n' +
          '    return [b"ok"]\n',
      },
    });
    const r = await tn.request('webapp:application', { method: 'post', path: '/items?x=1', headers: { 'X-Test': 'yes' }, body: 'payload' });
    t.is(r.status, 201);
    t.is(r.reason, 'Created');
    t.is(r.error, null);
    t.deepEqual(r.headers.find(([k]) => k === 'X-Tenant'), ['X-Tenant', 'web']);
    t.is(r.body.toString(), 'POST /items?x=1 yes payload');
    const missing = await tn.request('webapp:nothing_here');
    t.is(missing.status, 500);
    // A request that runs past its timeout: 504, TIMEOUT; the tenant answers again.
    const t0 = Date.now();
    const slow = await tn.request('webapp:application', { path: '/slow', timeout: 300 });
    t.is(slow.status, 504);
    t.is(slow.error?.code, 'TIMEOUT');
    t.true(Date.now() - t0 < 10_000);
    t.is((await tn.request('webapp:solution_app')).body.toString(), 'ok');
    await tn.close();
  });

  maybe(title("the tenant's os.environ is what it was given plus a documented minimal set; writes stay in the tenant"), async (t) => {
    const a = await harness.tenant('env-a', { env: { ONLY_A: '1' } });
    const b = await harness.tenant('env-b');
    process.env.PYHOST_TEST_SECRET = 'host-only';
    try {
      const keys = (await a.run('import os\nsorted(os.environ)')).value as string[];
      t.deepEqual(keys.filter((k) => k !== 'ONLY_A' && !BASE_ENVIRONMENT.includes(k)), [], 'nothing beyond the given and the base set');
      t.true(keys.includes('ONLY_A'));
      t.is((await a.run('os.environ.get("PYHOST_TEST_SECRET")')).value, null);
      t.is((await b.run('import os\nos.environ.get("ONLY_A")')).value, null);
      await a.run('os.environ["SET_BY_A"] = "x"');
      t.is((await b.run('os.environ.get("SET_BY_A")')).value, null);
      t.is(process.env.SET_BY_A, undefined, 'the process environment is untouched');
    } finally {
      delete process.env.PYHOST_TEST_SECRET;
    }
    const sig = await a.run('import signal\nsignal.signal(signal.SIGUSR1, lambda *a: None)');
    t.is(sig.error?.type, 'ValueError');
    await Promise.all([a.close(), b.close()]);
  });

  maybe(title('bad input and limits are clear errors'), async (t) => {
    const tn = await harness.tenant('dup');
    await t.throwsAsync(harness.tenant('dup'), { code: 'ERR_INVALID_OPTION' });
    await t.throwsAsync(harness.tenant('x', { nope: 1 } as never), { code: 'ERR_INVALID_OPTION', message: /nope/ });
    await t.throwsAsync(tn.run(42 as never), { code: 'ERR_INVALID_ARGUMENT' });
    await t.throwsAsync(tn.call('not a target'), { code: 'ERR_INVALID_ARGUMENT' });
    await t.throwsAsync(tn.run('1', { timeout: -5 }), { code: 'ERR_INVALID_ARGUMENT' });
    await tn.close();
    await t.throwsAsync(tn.run('1'), { code: 'ERR_TENANT_CLOSED' });
    await t.throwsAsync(Harness.start({ ...base, isolation: 'sandbox' as never }), { code: 'ERR_INVALID_OPTION', message: /isolation/ });
    const small = await Harness.start({ ...base, maxTenants: 1, pool: 0 });
    const one = await small.tenant('only');
    await t.throwsAsync(small.tenant('second'), { code: 'ERR_TOO_MANY_TENANTS' });
    await one.close();
    await small.close();
    const tight = await Harness.start({ ...base, memoryBudget: 1024, pool: 0 });
    await t.throwsAsync(tight.tenant('big'), { code: 'ERR_MEMORY_BUDGET' });
    await tight.close();
    await t.throwsAsync(tn.run('1'), { code: 'ERR_TENANT_CLOSED' });
  });

  if (o.isolation === 'interpreter') {
    maybe(title('process-wide state in one process: cwd and file descriptors are shared'), async (t) => {
      const a = await harness.tenant('proc-a');
      const b = await harness.tenant('proc-b');
      const cwd = process.cwd();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-cwd-'));
      try {
        await a.run(`import os\nos.chdir(${JSON.stringify(dir)})`);
        t.is((await b.run('import os\nos.getcwd()')).value, dir, 'cwd is process-wide');
        t.is(fs.realpathSync.native('.'), fs.realpathSync(dir), 'the process working directory moved');
      } finally {
        process.chdir(cwd);
      }
      const fd = (await a.run(`import os\nfd = os.open(${JSON.stringify(path.join(dir, 'f'))}, os.O_CREAT | os.O_WRONLY)\nos.write(fd, b"abc")\nfd`)).value as number;
      t.is((await b.run(`import os\nos.fstat(${fd}).st_size`)).value, 3, 'a descriptor opened in one tenant is usable in another');
      await a.run(`os.close(${fd})`);
      await Promise.all([a.close(), b.close()]);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    // Serial: tests running beside it would take the warm interpreters it waits for.
    (skip ? test.serial.skip : test.serial)(title('the warm pool refills itself and tenants come from it'), async (t) => {
      const deadline = Date.now() + 20000;
      while (harness.poolIdle < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      t.true(harness.poolIdle >= 2, `pool idle: ${harness.poolIdle}`);
      const tn = await harness.tenant('pooled');
      t.true((tn.runtime as unknown as { group: { native: { pooled: boolean } } }).group.native.pooled, 'the tenant took a warm interpreter');
      await tn.close();
    });
  }
}
