/**
 * The Python pyhost runs inside interpreters lives in python/*.py; test/python/test_sources.py
 * tests it as Python (unittest), under every Python pyhost builds for.
 */
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { PY311, PY313, skipUnlessPython } from './helpers/pythons.js';

for (const [label, python] of [['3.11', PY311], ['3.13', PY313]] as const) {
  const what = `python/*.py under Python ${label}: unittest test/python/test_sources.py`;
  if (skipUnlessPython(test, python, what)) continue;
  test(what, (t) => {
    const r = spawnSync(python, ['-I', 'test/python/test_sources.py', '-v'], { encoding: 'utf8', timeout: 60_000 });
    t.log(r.stderr.split('\n').filter((l) => / \.\.\. /.test(l)).length, 'Python tests ran');
    t.is(r.status, 0, r.stderr);
    t.regex(r.stderr, /Ran \d+ tests[\s\S]*\nOK\n/);
  });
}
