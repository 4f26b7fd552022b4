/**
 * One runtime, any thread (issue 18): Engines in worker_threads Workers attach to the process's
 * Python runtime; each owns its groups; a Worker that ends, or is terminated in the middle of
 * calls, releases its groups without disturbing the other threads; the last Engine to close
 * finalises Python; a Worker asking for another Python gets ERR_PYTHON_VERSION_MISMATCH naming
 * both. Also: ava itself with worker threads on, and a pool of 4 Workers taking tasks.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Engine } from '../ts/index.js';
import { REPO_ROOT } from './helpers/child.js';
import { PY311, PY313, pythonMissing, skipUnlessPython } from './helpers/pythons.js';
import { runNode, tail } from './helpers/run-node.js';

const WORKER = path.join(REPO_ROOT, 'test/fixtures/embedding/engine-worker.mjs');

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: { code?: string; message: string; name: string };
}

/** A Worker running an Engine on command (test/fixtures/embedding/engine-worker.ts). */
class EngineWorker {
  readonly worker = new Worker(WORKER);
  private next = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  readonly ready: Promise<void>;
  readonly exited: Promise<number>;

  constructor() {
    let ready!: () => void;
    this.ready = new Promise((r) => (ready = r));
    this.worker.on('message', (r: Reply) => (r.id === 0 ? ready() : this.waiting.get(r.id)?.(r)));
    this.exited = new Promise((r) => this.worker.on('exit', r));
  }

  /** Sends an op; resolves with its reply (ok or not). */
  send(op: string, args: object = {}): Promise<Reply> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ id, op, ...args });
    });
  }

  async must(op: string, args: object = {}): Promise<unknown> {
    const r = await this.send(op, args);
    if (!r.ok) throw new Error(`${op}: ${r.error?.code} ${r.error?.message}`);
    return r.value;
  }
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const skip313 = skipUnlessPython(test, PY313, 'worker threads');

if (!skip313) {
  let engine: Engine;
  test.before(async () => {
    engine = await Engine.start({ python: PY313, logger: () => {} });
  });
  test.after.always(async () => {
    await engine?.close();
  });
  const interpreters = () => engine.native.runtimeState().interpreters;

  test.serial('Engines in 4 Workers and the main thread at once: each attaches to the one runtime and owns its groups', async (t) => {
    const workers = Array.from({ length: 4 }, () => new EngineWorker());
    try {
      await Promise.all(workers.map((w) => w.ready));
      // No python option: a Worker attaches to whichever Python runs.
      const started = (await Promise.all(workers.map((w) => w.must('start')))) as { version: string; python: string }[];
      for (const s of started) t.deepEqual(s, { version: engine.pythonVersion, python: engine.python });
      // The same group name in five Engines: five interpreters, each with its own __main__.
      const main = engine.group('tenant', { gil: 'own' });
      await main.exec('me = "main"');
      await Promise.all(workers.map((w, i) => w.must('exec', { group: 'tenant', groupOptions: { gil: 'own' }, code: `me = "w${i}"` })));
      const [mainResults, ...workerResults] = await Promise.all([
        Promise.all(Array.from({ length: 500 }, (_, i) => main.eval<[string, number]>(`(me, ${i})`))),
        ...workers.map((w) => w.must('evalMany', { group: 'tenant', groupOptions: { gil: 'own' }, code: '(me, $i)', n: 500 })),
      ]);
      t.deepEqual(mainResults, Array.from({ length: 500 }, (_, i) => ['main', i]));
      workerResults.forEach((r, w) => t.deepEqual(r, Array.from({ length: 500 }, (_, i) => [`w${w}`, i])));
      t.true(interpreters() >= 5, `${interpreters()} sub-interpreters`);
      await Promise.all(workers.map((w) => w.must('close')));
      t.is(await main.eval('me'), 'main', 'Workers closing their Engines left this one running');
    } finally {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    }
  });

  test.serial('worker.terminate() in the middle of calls (busy loop, sleep, queued call): its groups go, the other Engines still answer', async (t) => {
    const before = interpreters();
    const flags = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-terminate-'));
    const victim = new EngineWorker();
    await victim.ready;
    await victim.must('start');
    const loop = `open(${JSON.stringify(path.join(flags, 'loop'))}, "w").close()\nwhile True:\n    try:\n        pass\n    except Exception:\n        pass`;
    const sleep = `import time\nopen(${JSON.stringify(path.join(flags, 'sleep'))}, "w").close()\ntime.sleep(600)`;
    void victim.send('exec', { group: 'spin', groupOptions: { gil: 'own', threads: 1 }, code: loop });
    void victim.send('exec', { group: 'spin', groupOptions: { gil: 'own', threads: 1 }, code: 'queued = True' }); // waits behind the loop
    void victim.send('exec', { group: 'nap', code: sleep });
    await waitFor('the loop and the sleep to run', () => fs.existsSync(path.join(flags, 'loop')) && fs.existsSync(path.join(flags, 'sleep')));
    t.is(interpreters(), before + 2);
    await victim.worker.terminate();
    t.is(await victim.exited, 1);
    // The terminated Worker's interpreters end: its running calls were interrupted, its queue dropped.
    await waitFor('the terminated Worker\'s interpreters to end', () => interpreters() === before);
    t.is(await engine.group('%{GLOBAL}').eval('"still here"'), 'still here');
    const next = new EngineWorker();
    try {
      await next.ready;
      await next.must('start');
      t.is(await next.must('eval', { group: 'spin', code: '"a new Worker, a new spin group"' }), 'a new Worker, a new spin group');
      await next.must('close');
    } finally {
      await next.worker.terminate();
    }
  });

  test.serial('worker.terminate() while its native HTTP front serves: connections cut, the port closed, its groups released, the process unharmed', async (t) => {
    const before = interpreters();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-worker-front-'));
    const script = path.join(dir, 'app.wsgi');
    fs.writeFileSync(
      script,
      'import os, time\n' +
        'def application(environ, start_response):\n' +
        "    if environ['PATH_INFO'] == '/slow':\n" +
        `        open(${JSON.stringify(path.join(dir, 'slow'))}, 'w').close()\n` +
        '        time.sleep(600)\n' +
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n" +
        "    return [b'served by the worker']\n",
    );
    const w = new EngineWorker();
    await w.ready;
    await w.must('start');
    const port = (await w.must('serve', { script, group: 'front' })) as number;
    const hello = await fetch(`http://127.0.0.1:${port}/`);
    t.is(await hello.text(), 'served by the worker');
    t.is(interpreters(), before + 1);
    const slow = fetch(`http://127.0.0.1:${port}/slow`).then(
      (r) => `status ${r.status}`,
      (err: Error) => `failed: ${err.message}`,
    );
    await waitFor('the slow request to run', () => fs.existsSync(path.join(dir, 'slow')));
    await w.worker.terminate();
    t.is(await w.exited, 1);
    t.regex(await slow, /^failed/, 'the request in flight lost its connection instead of hanging');
    await t.throwsAsync(fetch(`http://127.0.0.1:${port}/`), undefined, 'nothing listens on the port any more');
    await waitFor("the Worker's interpreter to end", () => interpreters() === before);
    t.is(await engine.group('%{GLOBAL}').eval('"still here"'), 'still here');
  });

  test.serial('a Worker that exits without closing its Engine releases its groups', async (t) => {
    const before = interpreters();
    const w = new EngineWorker();
    await w.ready;
    await w.must('start');
    t.is(await w.must('eval', { group: 'left-open', code: '1 + 1' }), 2);
    t.is(interpreters(), before + 1);
    await w.must('exec', { group: '%{GLOBAL}', code: 'pass' });
    void w.send('exit');
    t.is(await w.exited, 0);
    await waitFor('its interpreter to end', () => interpreters() === before);
    t.is(await engine.group('%{GLOBAL}').eval('2 + 2'), 4);
  });

  test.serial('host functions run on the event loop of the thread whose Engine made the group', async (t) => {
    const workers = [new EngineWorker(), new EngineWorker()];
    try {
      await Promise.all(workers.map((w) => w.ready));
      await Promise.all(workers.map((w) => w.must('start')));
      const code = '[__import__("pyhost").host.where(), __import__("pyhost").host.slow(50)]';
      const answers = await Promise.all(workers.map((w, i) => w.must('hostEval', { group: `host-in-worker-${i}`, code })));
      t.deepEqual(answers, workers.map((w) => [w.worker.threadId, w.worker.threadId]));
      const main = engine.group('host-in-main', { host: { where: () => 'main' } });
      t.is(await main.eval('__import__("pyhost").host.where()'), 'main');
      // A Worker's group does not see the main thread's functions, nor the reverse.
      t.is(await workers[0].must('eval', { group: 'host-in-worker-0', code: 'callable(__import__("pyhost").host.slow)' }), true);
      const other = await workers[1].send('eval', { group: 'no-host-in-worker-1', code: '__import__("pyhost").host.where()' });
      t.false(other.ok);
      t.regex(other.error!.message, /no host function 'where'/);
      await Promise.all(workers.map((w) => w.must('close')));
    } finally {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    }
  });

  test.serial('a Worker terminated while its Python waits in a host function: its interpreter ends, the others go on', async (t) => {
    const before = interpreters();
    const doomed = new EngineWorker();
    await doomed.ready;
    await doomed.must('start');
    void doomed.send('hostEval', { group: 'host-doomed', code: '__import__("pyhost").host.slow(600000)' });
    await waitFor('its interpreter to start', () => interpreters() === before + 1);
    await new Promise((r) => setTimeout(r, 100));
    await doomed.worker.terminate();
    await waitFor('its interpreter to end', () => interpreters() === before);
    t.is(await engine.group('%{GLOBAL}').eval('"main goes on"'), 'main goes on');
  });

  test.serial('a pool of 4 Workers (Piscina-style) takes 400 tasks: every result right, every Worker used', async (t) => {
    const pool = Array.from({ length: 4 }, () => new EngineWorker());
    try {
      await Promise.all(pool.map((w) => w.ready));
      await Promise.all(pool.map((w) => w.must('start')));
      const tasks = Array.from({ length: 400 }, (_, i) => i);
      const taken = new Map<number, number>();
      const results: number[] = [];
      await Promise.all(
        pool.map(async (w, wi) => {
          for (let task = tasks.shift(); task !== undefined; task = tasks.shift()) {
            results[task] = (await w.must('eval', { group: 'pool', code: `sum(range(${task}))` })) as number;
            taken.set(wi, (taken.get(wi) ?? 0) + 1);
          }
        }),
      );
      t.deepEqual(results, Array.from({ length: 400 }, (_, i) => (i * (i - 1)) / 2 + 0));
      t.is(taken.size, 4, JSON.stringify([...taken]));
      await Promise.all(pool.map((w) => w.must('close')));
    } finally {
      await Promise.all(pool.map((w) => w.worker.terminate()));
    }
  });

  test.serial('a Worker asking for another Python gets ERR_PYTHON_VERSION_MISMATCH naming both', async (t) => {
    if (pythonMissing(PY311)) return t.pass(`skipped: ${pythonMissing(PY311)}`);
    const w = new EngineWorker();
    try {
      await w.ready;
      const r = await w.send('start', { options: { python: PY311 } });
      t.false(r.ok);
      t.is(r.error?.code, 'ERR_PYTHON_VERSION_MISMATCH');
      t.regex(r.error?.message ?? '', new RegExp(`Python ${engine.pythonVersion.replace(/\./g, '\\.')} .*already runs.*started by the main thread.*asks for Python 3\\.11`));
      // It can still attach to the Python that runs.
      await w.must('start');
      t.is(await w.must('eval', { group: 'x', code: '3 * 3' }), 9);
      await w.must('close');
    } finally {
      await w.worker.terminate();
    }
  });
}

if (!skip313) {
  test('the last Engine to close finalises Python, whichever thread it is on', async (t) => {
    const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-last-')), 'atexit');
    const script = `
      import { Engine } from './ts/index.ts';
      import { Worker } from 'node:worker_threads';
      import fs from 'node:fs';
      const main = await Engine.start({ python: ${JSON.stringify(PY313)}, logger: () => {} });
      await main.group('%{GLOBAL}').exec(${JSON.stringify(`import atexit\natexit.register(lambda: open(${JSON.stringify(marker)}, 'w').write('finalised'))`)});
      const w = new Worker(${JSON.stringify(WORKER)}, { execArgv: [] });
      let next = 1; const waiting = new Map();
      w.on('message', (r) => waiting.get(r.id)?.(r));
      const send = (op, args = {}) => new Promise((res) => { const id = next++; waiting.set(id, res); w.postMessage({ id, op, ...args }); });
      await new Promise((r) => w.once('message', r));
      const out = {};
      out.workerStart = (await send('start')).ok;
      await main.close();
      out.afterMainClose = { finalised: fs.existsSync(${JSON.stringify(marker)}), workerAnswers: (await send('eval', { group: 'g', code: '5 + 5' })).value };
      out.workerClose = (await send('close')).value;
      out.afterWorkerClose = fs.existsSync(${JSON.stringify(marker)}) ? fs.readFileSync(${JSON.stringify(marker)}, 'utf8') : null;
      await w.terminate();
      const again = await Engine.start({ python: ${JSON.stringify(PY313)}, logger: () => {} });
      out.restarted = await again.group('%{GLOBAL}').eval('"again"');
      await again.close();
      console.log(JSON.stringify(out));
    `;
    const r = await runNode(['--import', 'tsx', '--input-type=module', '-e', script], {}, 120_000);
    t.is(r.code, 0, tail(r));
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    t.deepEqual(out, {
      workerStart: true,
      afterMainClose: { finalised: false, workerAnswers: 10 },
      workerClose: 'closed',
      afterWorkerClose: 'finalised',
      restarted: 'again',
    });
  });

  test('ava with worker threads on: two test files, each with its own Engine, in worker threads at once', (t) => {
    // The fixtures import the built package, as a project's tests would: build it if it is stale.
    const dist = path.join(REPO_ROOT, 'dist/index.js');
    const newest = Math.max(...fs.readdirSync(path.join(REPO_ROOT, 'ts'), { recursive: true }).map((f) => fs.statSync(path.join(REPO_ROOT, 'ts', String(f))).mtimeMs));
    if (!fs.existsSync(dist) || fs.statSync(dist).mtimeMs < newest) {
      execFileSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: REPO_ROOT, stdio: 'pipe' });
    }
    let out: string;
    try {
      out = execFileSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/ava/entrypoints/cli.mjs'), '--config', 'test/fixtures/embedding/ava-worker-threads.config.mjs'], {
        cwd: REPO_ROOT,
        env: { ...process.env, PYHOST_TEST_PY313: PY313 },
        encoding: 'utf8',
        stdio: 'pipe',
        timeout: 120_000,
      });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return t.fail(`ava failed:\n${e.stdout}\n${e.stderr}`);
    }
    t.regex(out, /2 tests passed/, out);
  });
}
