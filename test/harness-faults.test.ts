/**
 * Tenants that misbehave (issue 15), on Python 3.13 with own-GIL tenants. Isolation 'process':
 * whatever is fatal to a tenant ends only its host process; the failing call resolves with the
 * right code; the tenants of that host are re-created and flagged; a tenant in another host keeps
 * its state; this Node process goes on. Both modes: hard timeouts (also on code that catches
 * Exception, and in time.sleep), queued calls not timed out, the interpreter modules refused,
 * reset() stopping the tenant's threads, the output cap, sys.exit() as a result.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Harness, type HarnessOptions, type RunResult, type Tenant } from '../ts/harness/index.js';
import { PY313, skipUnlessPython } from './helpers/pythons.js';

const skip = skipUnlessPython(test, PY313, 'harness faults');
const maybe = skip ? test.skip : test;
const serial = skip ? test.serial.skip : test.serial;
const base: HarnessOptions = { python: PY313, gil: 'own', pool: 2, engine: { logger: () => {} } };
const MiB = 1024 * 1024;

/** A harness whose victim and neighbour share a host process, and a bystander has one of its own. */
async function trio(options: HarnessOptions = {}) {
  const harness = await Harness.start({ ...base, isolation: 'process', tenantsPerProcess: 2, ...options });
  const restarts: string[] = [];
  harness.on('restart', (tn: Tenant) => restarts.push(tn.name));
  const victim = await harness.tenant('victim');
  const neighbour = await harness.tenant('neighbour');
  const bystander = await harness.tenant('bystander');
  for (const tn of [victim, neighbour, bystander]) await tn.run(`state = "${tn.name} state"`);
  return { harness, victim, neighbour, bystander, restarts };
}

/** After a fatal fault in the victim: who was re-created, and that everyone answers again. */
async function checkAftermath(t: ExecutionContext, s: Awaited<ReturnType<typeof trio>>): Promise<void> {
  t.deepEqual([...s.restarts].sort(), ['neighbour', 'victim'], 'the tenants of the dead host are re-created');
  t.is(s.victim.restarts, 1);
  t.is(s.neighbour.restarts, 1);
  t.is(s.bystander.restarts, 0);
  t.is((await s.bystander.run('state')).value, 'bystander state', 'a tenant of another host keeps its state');
  t.is((await s.neighbour.run("'state' in globals()")).value, false, "the neighbour's state went with its host");
  t.is((await s.neighbour.run('6 * 7')).value, 42);
  t.is((await s.victim.run('6 * 7')).value, 42);
}

const CRASHES: [string, string, RegExp][] = [
  ['os._exit(1)', 'import os\nos._exit(1)', /exit code 1/],
  ['os.abort()', 'import os\nos.abort()', /SIGABRT/],
  ['a segfault through ctypes', 'import ctypes\nctypes.memset(8, 0, 1)', /SIGSEGV/],
  ['SIGTERM to its own process', 'import os, signal, time\nos.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(5)', /./],
  ['SIGKILL to its own process', 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)', /SIGKILL/],
];

for (const [what, code, reason] of CRASHES) {
  serial(`[process] ${what} in a tenant ends only its host: CRASHED, its host's tenants re-created, the others untouched`, async (t) => {
    const s = await trio();
    try {
      const r = await s.victim.run(`print("about to fail")\n${code}`, { timeout: 10_000 });
      t.is(r.error?.code, 'CRASHED', JSON.stringify(r));
      t.regex(r.error!.message, reason);
      await checkAftermath(t, s);
    } finally {
      await s.harness.close();
    }
  });
}

serial("[process] os.close(1) and os.close(2) close the host's descriptors, not this process's", async (t) => {
  const s = await trio();
  try {
    const r = await s.victim.run('import os\nos.close(1)\nos.close(2)\n"closed"');
    t.is(r.value, 'closed');
    t.true(fs.fstatSync(1).isFile() || fs.fstatSync(1).isFIFO() || fs.fstatSync(1).isCharacterDevice() || fs.fstatSync(1).isSocket());
    t.notThrows(() => fs.writeSync(1, ''));
    t.is((await s.victim.run('print("still captured")\n1')).stdout, 'still captured\n');
    t.is((await s.bystander.run('state')).value, 'bystander state');
  } finally {
    await s.harness.close();
  }
});

serial('[process] a 500 MB allocation over memoryLimit is MEMORY; the tenant goes on', async (t) => {
  const s = await trio({ memoryLimit: 400 * MiB });
  try {
    const r = await s.victim.run('b = bytearray(500 * 1024 * 1024)\nlen(b)');
    t.is(r.error?.code, 'MEMORY', JSON.stringify(r.error));
    t.is(r.error?.type, 'MemoryError');
    t.is((await s.victim.run('len(bytearray(10 * 1024 * 1024))')).value, 10 * MiB);
    t.is((await s.bystander.run('state')).value, 'bystander state');
  } finally {
    await s.harness.close();
  }
});

serial('[process] code stuck in C past its timeout: the host is replaced, the call is TIMEOUT, the others go on', async (t) => {
  const s = await trio({ timeoutGrace: 500 });
  try {
    const t0 = Date.now();
    const r = await s.victim.run('import ctypes\nctypes.PyDLL(None).sleep(60)', { timeout: 300 });
    t.is(r.error?.code, 'TIMEOUT');
    t.regex(r.error!.message, /host process was replaced/);
    t.true(Date.now() - t0 < 20_000);
    await checkAftermath(t, s);
  } finally {
    await s.harness.close();
  }
});

for (const isolation of ['process', 'interpreter'] as const) {
  let harness: Harness;
  test.before(async () => {
    if (!skip) harness = await Harness.start({ ...base, isolation, timeoutGrace: 3000 });
  });
  test.after.always(async () => {
    await harness?.close();
  });
  const title = (s: string) => `[${isolation}] ${s}`;

  maybe(title('a busy loop inside try/except Exception is stopped at its timeout'), async (t) => {
    const tn = await harness.tenant('catcher');
    const t0 = Date.now();
    const r = await tn.run('n = 0\nwhile True:\n    try:\n        while True:\n            n += 1\n    except Exception:\n        pass', { timeout: 500 });
    t.is(r.error?.code, 'TIMEOUT');
    t.true(Date.now() - t0 < 2500, `stopped after ${Date.now() - t0} ms`);
    t.true(((await tn.run('n')).value as number) > 0);
    t.false(tn.quarantined);
    await tn.close();
  });

  maybe(title('time.sleep(60) with a 500 ms timeout ends at once'), async (t) => {
    const tn = await harness.tenant('sleeper');
    const t0 = Date.now();
    const r = await tn.run('import time\nprint("going to sleep")\ntime.sleep(60)', { timeout: 500 });
    t.is(r.error?.code, 'TIMEOUT');
    t.is(r.stdout, 'going to sleep\n', 'output before the timeout is kept');
    t.true(Date.now() - t0 < 2500, `stopped after ${Date.now() - t0} ms`);
    t.notRegex(r.error!.traceback, /pyhost-tenant/);
    // Lock acquires and socket reads are interrupted too.
    const lock = await tn.run('import threading\nl = threading.Lock()\nl.acquire()\nl.acquire()', { timeout: 300 });
    t.is(lock.error?.code, 'TIMEOUT');
    const sock = await tn.run('import socket\na, b = socket.socketpair()\na.recv(10)', { timeout: 300 });
    t.is(sock.error?.code, 'TIMEOUT');
    t.is((await tn.run('import time\ntime.sleep(0.01)\n"slept"')).value, 'slept');
    await tn.close();
  });

  maybe(title('a call queued behind a slow one is not timed out: its timer starts when it runs'), async (t) => {
    const tn = await harness.tenant('queue');
    const slow = tn.run('import time\ntime.sleep(1.5)\n"slow done"', { timeout: 10_000 });
    const queued = tn.run('"queued done"', { timeout: 500 });
    const [a, b] = await Promise.all([slow, queued]);
    t.is(a.value, 'slow done');
    t.is(b.error, null);
    t.is(b.value, 'queued done');
    t.false(tn.quarantined);
    await tn.close();
  });

  maybe(title('the interpreter modules are refused, by import and by _imp'), async (t) => {
    const tn = await harness.tenant('no-backdoor');
    for (const mod of ['_interpreters', '_xxsubinterpreters', '_interpqueues', '_interpchannels', 'concurrent.interpreters']) {
      const r = await tn.run(`import ${mod}`);
      t.is(r.error?.type === 'ModuleNotFoundError' ? 'missing' : r.error?.type, 'ImportError', `${mod}: ${JSON.stringify(r.error)}`);
      t.regex(r.error!.message, /not available in a harness tenant/);
    }
    const viaImp = await tn.run('import _imp, importlib.machinery\n_imp.create_builtin(importlib.machinery.ModuleSpec("_interpreters", None))');
    t.is(viaImp.error?.type, 'ImportError');
    await tn.close();
  });

  maybe(title("reset() stops the tenant's own threads"), async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-threads-'));
    const beat = path.join(dir, 'beat');
    const tn = await harness.tenant('threads');
    await tn.run(
      `import threading, time\ndef beat():\n    n = 0\n    while True:\n        n += 1\n        open(${JSON.stringify(beat)}, "w").write(str(n))\n        time.sleep(0.01)\n` +
        'threading.Thread(target=beat).start()\n' +
        'def spin():\n    while True:\n        pass\nthreading.Thread(target=spin).start()',
    );
    await new Promise((r) => setTimeout(r, 100));
    t.true(fs.existsSync(beat));
    const t0 = Date.now();
    await tn.reset();
    t.true(Date.now() - t0 < 5000, `reset took ${Date.now() - t0} ms`);
    t.false(tn.quarantined);
    const after = fs.readFileSync(beat, 'utf8');
    await new Promise((r) => setTimeout(r, 200));
    t.is(fs.readFileSync(beat, 'utf8'), after, 'the thread stopped beating');
    t.is((await tn.run('import threading\nthreading.active_count()')).value, 1);
    await tn.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  maybe(title('output past maxOutput is dropped and flagged; a 20 MB print is stopped (OUTPUT_LIMIT)'), async (t) => {
    const tn = await harness.tenant('printer');
    const big: RunResult = await tn.run('import sys\nprint("x" * 20_000_000)\nprint("after")');
    t.is(big.stdout.length, MiB);
    t.true(big.stdoutTruncated);
    t.false(big.stderrTruncated);
    t.is(big.error?.code, 'OUTPUT_LIMIT');
    const some = await tn.run('import sys\nfor i in range(3):\n    sys.stderr.write("e" * 500_000)\n"ok"');
    t.is(some.value, 'ok');
    t.is(some.stderr.length, MiB);
    t.true(some.stderrTruncated);
    t.is(some.error, null);
    const value = await tn.run('"v" * (17 * 1024 * 1024)');
    t.is(value.error?.code, 'OUTPUT_LIMIT');
    await tn.close();
  });

  maybe(title('sys.exit() is r.error (EXIT), with the output printed before it'), async (t) => {
    const tn = await harness.tenant('exiter');
    const r = await tn.run('import sys\nprint("before exit")\nsys.exit(3)');
    t.is(r.error?.code, 'EXIT');
    t.is(r.error?.message, 'exit status 3');
    t.is(r.stdout, 'before exit\n');
    const bare = await tn.run('raise SystemExit');
    t.is(bare.error?.code, 'EXIT');
    t.is(bare.error?.message, 'exit status 0');
    t.is((await tn.run('1')).value, 1);
    await tn.close();
  });
}
