/**
 * Python generators as async iterators (issue 18): group.iterate(module, func, args) yields what
 * the generator yields; it advances only when the consumer asks (by `batch` values); stopping
 * early closes it (its finally runs); an exception in it reaches the consumer; a million values
 * pass in constant memory. Registered by iterate-311/313.test.ts.
 */
import type { TestFn } from 'ava';
import { PythonError } from '../ts/index.js';
import { pythonSuite } from './helpers/python-suite.js';

const GENERATORS = `
import sys
mod = type(sys)('gens')
mod.produced = 0
mod.closed = False

def counting(n):
    try:
        for i in range(n):
            mod.produced += 1
            yield i
    finally:
        mod.closed = True

def failing():
    yield 'first'
    raise LookupError('the second value is missing')

def records(n):
    for i in range(n):
        yield {'id': i, 'name': 'row %d' % i, 'tags': ['a', 'b']}

mod.counting = counting
mod.failing = failing
mod.records = records
sys.modules['gens'] = mod
`;

export function registerIterateSuite(test: TestFn, python: string, label: string): void {
  const suite = pythonSuite(test, python, label, 'iterate');
  if (!suite) return;
  const { title } = suite;

  const fresh = async (name: string) => {
    const g = suite.engine.group(name);
    await g.exec(GENERATORS);
    return g;
  };

  test.serial(title('values arrive in order; the generator advances only when asked; break closes it'), async (t) => {
    const g = await fresh('iter-lazy');
    const got: number[] = [];
    for await (const v of g.iterate<number>('gens', 'counting', [1000])) {
      got.push(v);
      t.is(await g.eval('sys.modules["gens"].produced'), got.length, 'no value made ahead of the consumer');
      if (got.length === 3) break;
    }
    t.deepEqual(got, [0, 1, 2]);
    t.true(await g.eval('sys.modules["gens"].closed'), 'the generator was closed: its finally ran');
    t.is(await g.eval('sys.modules["gens"].produced'), 3);
  });

  test.serial(title('with { batch } it runs at most a batch ahead; it ends by itself at exhaustion'), async (t) => {
    const g = await fresh('iter-batch');
    const it = g.iterate<number>('gens', 'counting', [25], { batch: 10 });
    t.deepEqual((await it.next()).value, 0);
    t.is(await g.eval('sys.modules["gens"].produced'), 10);
    const rest: number[] = [];
    for await (const v of it) rest.push(v);
    t.deepEqual(rest, Array.from({ length: 24 }, (_, i) => i + 1));
    t.true(await g.eval('sys.modules["gens"].closed'));
    const records = [];
    for await (const r of g.iterate('gens', 'records', [3])) records.push(r);
    t.deepEqual(records[2], { id: 2, name: 'row 2', tags: ['a', 'b'] });
  });

  test.serial(title('an exception in the generator reaches the consumer after the values before it'), async (t) => {
    const g = await fresh('iter-fail');
    const got: unknown[] = [];
    const err = await t.throwsAsync(async () => {
      for await (const v of g.iterate('gens', 'failing')) got.push(v);
    });
    t.deepEqual(got, ['first']);
    t.true(err instanceof PythonError);
    t.is((err as PythonError).type, 'LookupError');
    const missing = await t.throwsAsync(async () => {
      for await (const v of g.iterate('gens', 'nope')) got.push(v);
    });
    t.is((missing as PythonError).type, 'AttributeError');
    await t.throwsAsync(async () => {
      for await (const v of g.iterate('gens', 'counting', [3], { batch: 0 })) got.push(v);
    }, { message: /batch must be an integer/ });
  });

  test.serial(title('an AbortSignal stops an iteration; the generator is closed'), async (t) => {
    const g = await fresh('iter-abort');
    const ac = new AbortController();
    let n = 0;
    let err: { name?: string } | undefined;
    try {
      for await (const _ of g.iterate('gens', 'counting', [1_000_000], { signal: ac.signal })) {
        if (++n === 5) ac.abort();
      }
    } catch (e) {
      err = e as { name?: string }; // the signal's reason: a DOMException named AbortError
    }
    t.is(err?.name, 'AbortError');
    t.is(n, 5);
    t.true(await g.eval('sys.modules["gens"].closed'));
  });

  test.serial(title('a generator of 1,000,000 values is consumed in constant memory'), async (t) => {
    const g = await fresh('iter-million');
    const rss = () => process.memoryUsage().rss / 2 ** 20;
    let count = 0;
    let sum = 0;
    let rssAt100k = 0;
    for await (const v of g.iterate<number>('gens', 'counting', [1_000_000], { batch: 1000 })) {
      count++;
      sum += v;
      if (count === 100_000) rssAt100k = rss();
    }
    const grown = rss() - rssAt100k;
    t.is(count, 1_000_000);
    t.is(sum, (999_999 * 1_000_000) / 2);
    // A million Python ints held anywhere (a list in Python, an array in JS) is 30+ MiB.
    t.true(grown < 16, `RSS grew ${grown.toFixed(1)} MiB between 100,000 and 1,000,000 values`);
    t.is(await g.eval('len([k for k in dir(__import__("_pyhost")) if k.startswith("iter_")])'), 3);
  });
}
