/**
 * The %{GLOBAL} fallback on the native front (in Node's process): an own-GIL group whose
 * application imports a single-phase extension moves to the main interpreter (fallback 'global')
 * or answers 500 (fallback 'error'); either way the serving thread reports the refusal and the
 * engine logs it in the scheduler's words (ts/scheduler/fallback.ts), as for a daemon process, and
 * counts the move in its metrics.
 */
import test from 'ava';
import path from 'node:path';
import { Engine, type LogRecord } from '../ts/index.js';
import { NativeFront } from '../ts/front/native-front.js';
import { movedWarning, refusedAdvice } from '../ts/scheduler/index.js';
import { APP } from './helpers/daemon.js';
import { request } from './helpers/http.js';
import { parseExposition } from './helpers/prometheus.js';
import { PY313, skipUnlessPython } from './helpers/pythons.js';

const SINGLEPHASE = path.join(path.dirname(APP), 'singlephase.wsgi');
const skip313 = skipUnlessPython(test, PY313, 'single-phase extensions (3.12+)');

/** One engine per test: a group name belongs to one Engine in the process. */
async function serveNative(group: string, fallback: 'global' | 'error') {
  const logs: LogRecord[] = [];
  const engine = await Engine.start({ python: PY313, metrics: true, logger: (r) => logs.push(r) });
  const mount = engine.mount(SINGLEPHASE, { group, groupOptions: { gil: 'own', fallback } });
  const front = await NativeFront.start(engine, { host: '127.0.0.1', port: 0, listenBacklog: 64, headerTimeout: 5000, routes: [{ prefix: '/', mount }] });
  return { engine, front, logs, url: `http://127.0.0.1:${front.port}/` };
}

if (!skip313) {
  test("fallback 'global': the group moves to %{GLOBAL} once, with the scheduler's warning, counted in the metrics", async (t) => {
    const s = await serveNative('moves', 'global');
    try {
      const a = JSON.parse((await request(s.url)).text());
      const b = JSON.parse((await request(s.url)).text());
      t.true(a.main, 'runs in the main interpreter after the fallback');
      t.is(a.module, '_testsinglephase');
      t.is(a.application_group, 'moves');
      t.true(b.main);
      const warnings = s.logs.filter((r) => r.level === 'warn' && r.message.includes('_testsinglephase'));
      t.deepEqual(warnings.map((r) => [r.message, r.group]), [[movedWarning('moves', '_testsinglephase'), 'moves']]);
      t.false(s.logs.some((r) => r.message.startsWith('@refused')), 'the raw event is never logged');
      t.is(parseExposition(await s.engine.metrics()).value('pyhost_fallbacks_total', { group: 'moves', process_group: '' }), 1);
    } finally {
      await s.front.close(1000);
      await s.engine.close();
    }
  });

  test("fallback 'error': 500, and the ImportError logged with the scheduler's advice", async (t) => {
    const s = await serveNative('stays', 'error');
    try {
      t.is((await request(s.url)).status, 500);
      const errors = s.logs.filter((r) => r.level === 'error' && r.message.includes('_testsinglephase'));
      t.true(errors.length >= 1, JSON.stringify(s.logs));
      t.regex(errors[0]!.message, /ImportError/);
      t.true(errors[0]!.message.endsWith(refusedAdvice('stays', '_testsinglephase')), errors[0]!.message);
      t.false(s.logs.some((r) => r.message.startsWith('@refused') || r.message.includes('now runs in the main interpreter')));
    } finally {
      await s.front.close(1000);
      await s.engine.close();
    }
  });
}
