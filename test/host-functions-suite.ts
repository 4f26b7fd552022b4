/**
 * Host functions (issue 18): `engine.group(name, { host })` makes JS functions callable from that
 * group's Python as pyhost.host.name(*args). Plain values both ways; an async function blocks only
 * the calling Python thread, with its GIL released; a JS throw or rejection is pyhost.HostError;
 * each group sees only its own functions; a host function that calls back into its own group
 * while every worker waits gets ERR_HOST_DEADLOCK; timeouts and close() end a call that waits on
 * the host. Registered by host-functions-311/313.test.ts.
 */
import type { TestFn } from 'ava';
import { threadId } from 'node:worker_threads';
import { Engine, PythonError } from '../ts/index.js';
import { pythonSuite, rejection } from './helpers/python-suite.js';

export function registerHostFunctionsSuite(test: TestFn, python: string, label: string): void {
  const suite = pythonSuite(test, python, label, 'host functions');
  if (!suite) return;
  const { title } = suite;
  const kinds = suite.groupKinds('host');

  for (const [name, options] of kinds) {
    test.serial(title(`${name}: sync and async host functions, plain values both ways, run on the Engine's thread`), async (t) => {
      const seen: unknown[][] = [];
      const g = suite.engine.group(name, {
        ...options,
        host: {
          echo: (...args: unknown[]) => {
            seen.push(args);
            return { args, thread: threadId };
          },
          later: async (ms: number, v: unknown) => {
            await new Promise((r) => setTimeout(r, ms));
            return [v, 'later'];
          },
          nothing: () => undefined,
        },
      });
      const r = await g.eval<{ args: unknown[]; thread: number }>(
        `__import__("pyhost").host.echo(1, 2.5, "é", b"\\x00\\xff", None, True, [1, [2]], {"k": {"n": -3}}, 2**70)`,
      );
      t.deepEqual(r.args, [1, 2.5, 'é', Buffer.from([0, 255]), null, true, [1, [2]], { k: { n: -3 } }, 2n ** 70n]);
      t.is(r.thread, threadId, 'ran on the thread whose Engine made the group');
      t.deepEqual(await g.eval('__import__("pyhost").host.later(30, {"a": 1})'), [{ a: 1 }, 'later']);
      t.is(await g.eval('__import__("pyhost").host.nothing()'), null);
      t.deepEqual(await g.eval('sorted(dir(__import__("pyhost").host))'), ['echo', 'later', 'nothing']);
    });

    test.serial(title(`${name}: a throw and a rejection are pyhost.HostError (an Exception) with the message`), async (t) => {
      const g = suite.engine.group(`${name}-errors`.replace('%{GLOBAL}-', 'global-'), {
        ...options,
        host: {
          fails: () => {
            throw new TypeError('the pool is empty');
          },
          rejects: () => Promise.reject(new Error('no such row 7')),
          unplain: () => () => 1,
        },
      });
      await g.exec(`
import pyhost
def catch(name):
    try:
        getattr(pyhost.host, name)()
    except Exception as e:  # HostError is an Exception
        return [type(e).__name__, isinstance(e, pyhost.HostError), str(e)]
`);
      t.deepEqual(await g.eval('catch("fails")'), ['HostError', true, 'the pool is empty']);
      t.deepEqual(await g.eval('catch("rejects")'), ['HostError', true, 'no such row 7']);
      const [type, isHostError, message] = await g.eval<[string, boolean, string]>('catch("unplain")');
      t.deepEqual([type, isHostError], ['HostError', true]);
      t.regex(message, /result.*function/i, message);
      const err = await rejection(g.eval('__import__("pyhost").host.fails()'));
      t.true(err instanceof PythonError);
      t.is(err.type, 'pyhost.HostError');
    });
  }

  test.serial(title('each group sees only its own host functions; a name not given is an AttributeError naming what was'), async (t) => {
    const a = suite.engine.group('plugin-a', { host: { name: () => 'A', onlyA: () => 1 } });
    const b = suite.engine.group('plugin-b', { host: { name: () => 'B' } });
    const none = suite.engine.group('plugin-none');
    t.is(await a.eval('__import__("pyhost").host.name()'), 'A');
    t.is(await b.eval('__import__("pyhost").host.name()'), 'B');
    const err = await rejection(b.eval('__import__("pyhost").host.onlyA()'));
    t.is(err.type, 'AttributeError');
    t.regex(err.message, /plugin-b has no host function 'onlyA' \(it was given: name\)/);
    const err2 = await rejection(none.eval('__import__("pyhost").host.name()'));
    t.is(err2.type, 'AttributeError');
    t.regex(err2.message, /plugin-none has no host function 'name': it was given none/);
    t.false(await none.eval('hasattr(__import__("pyhost").host, "name")'));
  });

  test.serial(title('an async host function blocks only its Python thread, with the GIL released'), async (t) => {
    // One call waits in `hold` until a second call, on another worker of the same group (same
    // GIL), calls `release`: that only works if the first thread let go of the GIL.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const g = suite.engine.group('host-gil', {
      threads: 2,
      host: { hold: async () => (await held, 'held'), release: () => (release(), 'released') },
    });
    await g.exec('import pyhost, threading\nspun = 0');
    const first = g.eval<string>('pyhost.host.hold()');
    await new Promise((r) => setTimeout(r, 100));
    const second = g.eval<[string, number]>('[pyhost.host.release(), sum(range(100000))]');
    t.deepEqual(await second, ['released', 4999950000]);
    t.is(await first, 'held');
  });

  test.serial(title('threads the application starts reach their group\'s host functions'), async (t) => {
    const g = suite.engine.group('host-threads', { host: { double: (x: number) => 2 * x } });
    await g.exec(`
import threading, pyhost
out = []
ts = [threading.Thread(target=lambda i=i: out.append(pyhost.host.double(i))) for i in range(4)]
for th in ts: th.start()
for th in ts: th.join()
`);
    t.deepEqual(await g.eval('sorted(out)'), [0, 2, 4, 6]);
  });

  test.serial(title('a host function calling back into its own group: works with a free worker, ERR_HOST_DEADLOCK when none is'), async (t) => {
    const one = suite.engine.group('host-loop-1', { threads: 1, host: { again: async () => one.eval('40 + 2') } });
    const err = await rejection(one.eval('__import__("pyhost").host.again()'));
    t.is(err.type, 'pyhost.HostError');
    t.regex(err.message, /host-loop-1: a call from its own host function 'again' would wait forever/);
    t.is(await one.eval('1 + 1'), 2, 'the group goes on');
    const two = suite.engine.group('host-loop-2', { threads: 2, host: { again: async () => two.eval('40 + 2') } });
    t.is(await two.eval('__import__("pyhost").host.again()'), 42);
  });

  test.serial(title('a call waiting on a host function that never settles: its timeout ends it; close() does not hang'), async (t) => {
    const g = suite.engine.group('host-never', { threads: 1, host: { never: () => new Promise(() => {}) } });
    const started = Date.now();
    const err = await rejection(g.eval('__import__("pyhost").host.never()', { timeout: 200 }));
    t.is(err.code, 'ERR_TIMEOUT');
    t.true(Date.now() - started < 5000);
    t.is(await g.eval('"still serving"'), 'still serving');
    // A second Engine closes with a call waiting on its host: the call fails, close() returns.
    const other = await Engine.start({ python, logger: () => {} });
    const og = other.group('host-never-2', { host: { never: () => new Promise(() => {}) } });
    await og.eval('1');
    const waiting = og.eval('__import__("pyhost").host.never()').then(() => 'resolved', (e: Error & { type?: string; code?: string }) => e.type ?? e.code);
    await new Promise((r) => setTimeout(r, 100));
    const closing = Date.now();
    await other.close();
    t.true(Date.now() - closing < 10_000, `close took ${Date.now() - closing} ms`);
    t.not(await waiting, 'resolved');
  });

  test.serial(title('bad host options are refused with a clear error'), (t) => {
    t.throws(() => suite.engine.group('host-bad-1', { host: { 'not a name': () => 1 } }), { message: /not a Python identifier/ });
    t.throws(() => suite.engine.group('host-bad-2', { host: { f: 1 as unknown as () => void } }), { message: /host\.f must be a function/ });
    t.throws(() => suite.engine.group('host-bad-3', { host: [] as unknown as Record<string, () => void> }), { message: /host must be an object/ });
  });
}
