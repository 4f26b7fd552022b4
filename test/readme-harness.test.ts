/**
 * The README's harness example runs as written (its import pointed at the source), through the
 * pyenv shim `python3.13` it names: each awaited line's result is checked.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { describeChild, REPO_ROOT, runChild } from './helpers/child.js';
import { PY313, skipUnlessPython } from './helpers/pythons.js';

const skip = skipUnlessPython(test, PY313, "the README's harness example");

(skip ? test.skip : test)("the README's harness example runs as written", async (t) => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Multi-tenant harness'));
  const block = /```ts\n([^]*?)```/.exec(section)?.[1];
  t.truthy(block, 'the section has a ts code block');
  t.regex(block!, /python: 'python3\.13'/, 'it names Python by its pyenv shim');
  // Each awaited call's result is reported, in order; the import points at the source.
  const code = block!
    .replace("from 'pyhost/harness'", `from ${JSON.stringify(path.join(REPO_ROOT, 'ts', 'harness', 'index.ts'))}`)
    .replace(/^await (t\.(?:call|run|request)\(.*\));/gm, 'report(await $1);');
  // The shim resolves python3.13 through PATH; pyenv's shims are on it where pyenv is installed.
  const pyenvBin = path.resolve(PY313, '..', '..', '..', '..', 'shims');
  const r = await runChild(code + '\nprocess.exit(0);\n', { env: { PATH: `${pyenvBin}:${process.env.PATH}` }, timeoutMs: 120_000 });
  t.is(r.code, 0, describeChild(r));
  const [call, run, request] = r.reports as [
    { value: number; error: null },
    { error: { code: string; type: string } },
    { status: number; body: { data: number[] }; error: null },
  ];
  t.is(call.value, 3);
  t.is(call.error, null);
  t.is(run.error.code, 'TIMEOUT');
  t.is(run.error.type, 'pyhost.CallTimeout');
  t.is(request.status, 200);
  t.is(Buffer.from(request.body.data).toString(), 'hi');
  t.is(request.error, null);
});
