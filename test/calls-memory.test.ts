/**
 * A settled call leaves nothing behind in the JS heap: hundreds of thousands of exec/eval/call
 * round trips (with and without a timeout and an AbortSignal) in a child process with --expose-gc,
 * the heap measured after a full GC before and after. A call that stayed reachable (a reaction
 * left on a long-lived promise, a listener never removed) costs ~300 bytes: 60 MiB per 200,000.
 */
import test from 'ava';
import { runNode, tail } from './helpers/run-node.js';
import { PY313, skipUnlessPython } from './helpers/pythons.js';

const CALLS = 200_000;

const SCRIPT = `
import { Engine } from './ts/index.ts';
const engine = await Engine.start({ python: process.env.PY });
const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed; };
const out = {};
for (const [label, group, options] of [
  ['global', engine.group('%{GLOBAL}'), undefined],
  ['own', engine.group('own', { gil: 'own' }), undefined],
  ['options', engine.group('%{GLOBAL}'), () => ({ timeout: 10_000, signal: new AbortController().signal })],
]) {
  const batch = (n) => Promise.all(Array.from({ length: 1000 }, async () => {
    for (let i = 0; i < n / 1000; i++) await group.eval('1', options?.());
  }));
  await batch(20_000); // warm: JIT, pools, code cache
  const before = heap();
  await batch(${CALLS});
  out[label] = (heap() - before) / 2 ** 20;
}
await engine.close();
console.log(JSON.stringify(out));
`;

if (!skipUnlessPython(test, PY313, 'calls leave no heap behind')) {
  test(`${CALLS.toLocaleString('en')} settled calls per kind leave the JS heap where it was (%{GLOBAL}, own GIL, with timeout and signal)`, async (t) => {
    const r = await runNode(['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', SCRIPT], { PY: PY313 }, 170_000);
    t.is(r.code, 0, tail(r));
    const grown = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
    t.log('heap growth, MiB:', grown);
    t.deepEqual(Object.keys(grown), ['global', 'own', 'options']);
    for (const [kind, mib] of Object.entries(grown)) t.true(mib < 8, `${kind}: the heap grew ${mib.toFixed(1)} MiB over ${CALLS} calls`);
  });
}
