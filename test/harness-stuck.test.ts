/**
 * Isolation 'interpreter': code stuck in C that never releases the GIL cannot be interrupted: the
 * call resolves QUARANTINED, the tenant is quarantined (its later calls resolve QUARANTINED too),
 * the harness keeps serving the others, and closing it is bounded. Runs in a child process,
 * because a stuck thread keeps Python from being finalised. (Isolation 'process' replaces the
 * host instead: harness-faults.test.ts.)
 */
import test from 'ava';
import { describeChild, runChild } from './helpers/child.js';
import { PY313, skipUnlessPython } from './helpers/pythons.js';

const skip = skipUnlessPython(test, PY313, 'stuck tenants');

(skip ? test.skip : test)('a tenant stuck in C is quarantined; the others go on; close() is bounded', async (t) => {
  const r = await runChild(
    `
import { Harness } from ${JSON.stringify(new URL('../ts/harness/index.ts', import.meta.url).href)};
const h = await Harness.start({ python: ${JSON.stringify(PY313)}, isolation: 'interpreter', gil: 'own', pool: 2, closeTimeout: 1000, timeoutGrace: 1000, engine: { logger: () => {}, shutdownTimeout: 1000 } });
const stuck = await h.tenant('stuck');
const fine = await h.tenant('fine');
// libc sleep through ctypes.PyDLL keeps the GIL of the tenant's interpreter for 60 s.
const t0 = Date.now();
const r = await stuck.run('import ctypes\\nctypes.PyDLL(None).sleep(60)', { timeout: 200 });
report({ error: r.error, quarantined: stuck.quarantined, reason: stuck.quarantineReason, waited: Date.now() - t0 });
report({ other: (await fine.run('sum(range(100))')).value });
const later = await stuck.run('1');
report({ later: later.error?.code });
const c0 = Date.now();
await h.close();
report({ closeMs: Date.now() - c0, stats: h.stats() });
process.exit(0);
`,
    { timeoutMs: 60000 },
  );
  t.is(r.code, 0, describeChild(r));
  const [first, second, third, fourth] = r.reports as [
    { error: { code: string; message: string }; quarantined: boolean; reason: string },
    { other: number },
    { later: string },
    { closeMs: number },
  ];
  t.is(first.error.code, 'QUARANTINED');
  t.regex(first.error.message, /quarantined/);
  t.true(first.quarantined);
  t.regex(first.reason, /stuck in C/);
  t.is(second.other, 4950);
  t.is(third.later, 'QUARANTINED');
  t.true(fourth.closeMs < 30000, `close took ${fourth.closeMs} ms`);
});
