/**
 * Cancellable and bounded calls (issue 18): exec/eval/call with { timeout, signal } against one
 * Python, in every kind of group. Code that will not return is interrupted with the hard
 * interrupt the harness uses (a BaseException `except Exception` does not catch, raised again
 * until the call ends), time.sleep ends at once, a call still queued is dropped without running,
 * and the group goes on serving. Registered by call-options-311/313.test.ts.
 */
import type { TestFn } from 'ava';
import { PyhostError, type Group } from '../ts/index.js';
import { pythonSuite, rejection } from './helpers/python-suite.js';

const BUSY_LOOP = `
import time
_spins = 0
while True:
    try:
        _spins += 1
    except Exception:
        pass
`;

export function registerCallOptionsSuite(test: TestFn, python: string, label: string): void {
  const suite = pythonSuite(test, python, label, 'call options');
  if (!suite) return;
  const { title } = suite;
  const kinds = suite.groupKinds('opts');

  for (const [name, options] of kinds) {
    const group = (): Group => suite.engine.group(name, options);

    test.serial(title(`${name}: a timeout ends a busy loop inside try/except Exception with ERR_TIMEOUT; the group goes on`), async (t) => {
      const g = group();
      await g.exec('_spins = 0');
      const err = await rejection(g.exec(BUSY_LOOP, { timeout: 300 }));
      t.true(err instanceof PyhostError, String(err));
      t.is(err.code, 'ERR_TIMEOUT');
      t.true((await g.eval<number>('_spins')) > 1000, 'the loop ran until it was interrupted');
      t.is(await g.eval('6 * 7'), 42);
    });

    test.serial(title(`${name}: a timeout ends time.sleep at once (30 s asked)`), async (t) => {
      const g = group();
      const started = Date.now();
      const err = await rejection(g.exec('import time\ntime.sleep(30)\nreached = True', { timeout: 200 }));
      t.is(err.code, 'ERR_TIMEOUT');
      t.true(Date.now() - started < 10_000, `the sleep ended early (${Date.now() - started} ms)`);
      t.false(await g.eval('"reached" in globals()'), 'the code after the sleep did not run');
    });

    test.serial(title(`${name}: an AbortSignal interrupts a running busy loop and a sleep with an AbortError`), async (t) => {
      const g = group();
      for (const code of [BUSY_LOOP, 'import time\ntime.sleep(30)']) {
        const ac = new AbortController();
        const call = g.exec(code, { signal: ac.signal });
        await new Promise((r) => setTimeout(r, 150));
        ac.abort();
        const err = await rejection(call);
        t.is(err.name, 'AbortError', `${err.name}: ${err.message}`);
      }
      t.is(await g.eval('1 + 1'), 2);
    });

    test.serial(title(`${name}: a call that finishes in time resolves as usual; pyhost.CallTimeout is a BaseException`), async (t) => {
      const g = group();
      t.is(await g.eval('sum(range(10))', { timeout: 5000, signal: new AbortController().signal }), 45);
      t.deepEqual(
        await g.eval('[c.__name__ for c in __import__("_pyhost").CallTimeout.__mro__[:4]]'),
        ['CallTimeout', 'Interrupted', 'BaseException', 'object'],
      );
    });
  }

  test.serial(title('a call still queued when aborted is dropped: it never runs'), async (t) => {
    const g = suite.engine.group('opts-queue', { threads: 1 });
    await g.exec('ran = []');
    const ac = new AbortController();
    const first = g.exec('import time\ntime.sleep(0.5)');
    const queued = g.exec('ran.append("queued")', { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    t.is((await rejection(queued)).name, 'AbortError');
    await first;
    t.deepEqual(await g.eval('ran'), []);
  });

  test.serial(title('an already aborted signal rejects before anything is sent; bad options are refused'), async (t) => {
    const g = suite.engine.group('%{GLOBAL}');
    t.is((await rejection(g.eval('1', { signal: AbortSignal.abort() }))).name, 'AbortError');
    t.is((await rejection(g.eval('1', { timeout: -1 }))).code, 'ERR_INVALID_ARGUMENT');
    t.is((await rejection(g.eval('1', { signal: {} as AbortSignal }))).code, 'ERR_INVALID_ARGUMENT');
  });

  test.serial(title('time.sleep is the host-interruptible one, and behaves as time.sleep'), async (t) => {
    const g = suite.engine.group('opts-sleep');
    t.true(await g.eval('__import__("time").sleep is __import__("_pyhost").sleep'));
    t.is(await g.eval('(lambda t: (__import__("time").sleep(0.05), __import__("time").monotonic() - t)[1] >= 0.049)(__import__("time").monotonic())'), true);
    t.is(await g.eval('__import__("time").sleep(0)'), null);
    for (const [arg, type] of [['-1', 'ValueError'], ['"1"', 'TypeError'], ['float("nan")', 'ValueError']]) {
      const err = await rejection(g.eval(`__import__("time").sleep(${arg})`));
      t.is((err as { type?: string }).type, type, `sleep(${arg})`);
    }
  });
}
