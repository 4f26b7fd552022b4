/**
 * ts/scheduler: the decisions every request and call goes through, as functions of the policy
 * (data): admission, replica choice, the timeout clock, the error-to-status table (also what the
 * native gateway is handed), the %{GLOBAL} fallback and what an own GIL implies.
 */
import test from 'ava';
import {
  admit, checkInterval, errorStatusArgs, errorStatusTable, extensionsFor, isStrict, leastLoaded, movedWarning, movesToGlobal,
  overran, refusedAdvice, schedulerPolicy, setSchedulerPolicy, statusForError, tenantFallback, TimeoutClock,
} from '../ts/scheduler/index.js';
import { schedulerPolicy as publicPolicy, setSchedulerPolicy as publicSetPolicy } from '../ts/index.js';

test('admission: a group takes jobs up to its threads plus its queue limit, then ERR_QUEUE_FULL', (t) => {
  t.notThrows(() => admit('g', { inflight: 6, threads: 5, queueLimit: 2 }));
  const err = t.throws(() => admit('g', { inflight: 7, threads: 5, queueLimit: 2 }));
  t.is((err as { code?: string }).code, 'ERR_QUEUE_FULL');
  t.regex(err!.message, /group g: queue full \(2 waiting, 5 running\)/);
});

test('replicas: the least loaded takes the next request (the first of equals)', (t) => {
  const a = { name: 'a', load: 3 };
  const b = { name: 'b', load: 1 };
  const c = { name: 'c', load: 1 };
  t.is(leastLoaded([a, b, c]).name, 'b');
  t.is(leastLoaded([a]).name, 'a');
});

test('an own GIL implies strict extension checks; %{GLOBAL} is legacy; a shared GIL is as asked', (t) => {
  t.is(extensionsFor('own', 'legacy'), 'strict');
  t.is(extensionsFor('own', undefined), 'strict');
  t.is(extensionsFor('main', 'strict'), 'legacy');
  t.is(extensionsFor('shared', undefined), 'legacy');
  t.is(extensionsFor('shared', 'strict'), 'strict');
  t.true(isStrict('own', undefined));
  t.false(isStrict('shared', undefined));
});

test('status for an error code comes from the policy, and the native table is the same data', (t) => {
  t.deepEqual(statusForError('ERR_QUEUE_FULL'), { status: 503, reason: 'Service Unavailable' });
  t.deepEqual(statusForError('ERR_SCRIPT_NOT_FOUND'), { status: 404, reason: 'Not Found' });
  t.deepEqual(statusForError('ERR_SOMETHING'), { status: 500, reason: 'Internal Server Error' });
  t.deepEqual(statusForError(undefined), { status: 500, reason: 'Internal Server Error' });
  t.true(errorStatusTable().some(([c, s]) => c === 'ERR_ENGINE_CLOSED' && s === 503));
  t.true(errorStatusArgs().includes('ERR_SCRIPT_NOT_FOUND=404'));
  const previous = setSchedulerPolicy({ unavailableCodes: ['ERR_SOMETHING'] });
  try {
    t.is(statusForError('ERR_SOMETHING').status, 503);
    t.is(statusForError('ERR_QUEUE_FULL').status, 500);
    t.deepEqual(errorStatusTable().filter(([, s]) => s === 503), [['ERR_SOMETHING', 503]]);
  } finally {
    setSchedulerPolicy(previous);
  }
  t.is(schedulerPolicy().unavailableCodes.includes('ERR_QUEUE_FULL'), true);
});

test('setSchedulerPolicy (exported by the package): unknown fields and out-of-range numbers are refused and change nothing', (t) => {
  const before = publicPolicy();
  for (const bad of [{ loopPollMicros: -1 }, { idleSpinMicros: 1.5 }, { loopPollMicros: Number.NaN }, { idleSpinMicros: 10_001 }, { spinMicros: 5 }, { toString: 5 }]) {
    const err = t.throws(() => publicSetPolicy(bad as never), undefined, JSON.stringify(bad));
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
    t.regex(err!.message, /loopPollMicros|idleSpinMicros|unknown field (spinMicros|toString)/);
  }
  t.deepEqual(publicPolicy(), before);
  const previous = publicSetPolicy({ loopPollMicros: 0, idleSpinMicros: 10_000 });
  try {
    t.is(schedulerPolicy().loopPollMicros, 0, 'the package export and ts/scheduler share one policy');
    t.is(schedulerPolicy().idleSpinMicros, 10_000);
  } finally {
    publicSetPolicy(previous);
  }
  t.deepEqual(publicPolicy(), before);
});

test('timeouts: checked every tenth of the shortest, within the bounds; overran counts from a start', async (t) => {
  t.is(checkInterval([0, 0]), undefined);
  t.is(checkInterval([5000, 300]), 30);
  t.is(checkInterval([50]), schedulerPolicy().minTickMs);
  t.is(checkInterval([3_600_000]), schedulerPolicy().maxTickMs);
  t.false(overran(0, 100, 1000), 'not started');
  t.false(overran(500, 0, 10_000), 'no limit');
  t.true(overran(500, 100, 601));
  t.false(overran(500, 100, 600));
  let ticks = 0;
  const clock = new TimeoutClock([200], () => ticks++);
  const deadline = Date.now() + 5000;
  while (ticks < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  clock.stop();
  const seen = ticks;
  t.true(seen >= 3, `${seen} checks`);
  await new Promise((r) => setTimeout(r, 80));
  t.is(ticks, seen, 'stopped');
});

test('the %{GLOBAL} fallback: which option moves a group, and the words (one place)', (t) => {
  t.true(movesToGlobal('global'));
  t.false(movesToGlobal('error'));
  t.regex(movedWarning('app', 'numpy.core._multiarray_umath'), /numpy\.core\._multiarray_umath does not support sub-interpreters: group app now runs in the main interpreter/);
  t.regex(refusedAdvice('app', 'x'), /WSGIApplicationGroup %\{GLOBAL\}/);
  t.is(tenantFallback('global'), 'global');
  t.is(tenantFallback('shared'), 'shared');
  t.is(tenantFallback('error'), undefined);
});
