/**
 * Graceful recycling of daemon processes (issue 4): maximumRequests (with jitter) under
 * continuous load with zero failed requests, restartInterval, inactivityTimeout, memoryLimit,
 * requests in flight finishing on a recycled process, and gracefulTimeout cutting them off.
 */
import test from 'ava';
import { attempt, daemonSites, EVENT_TIMEOUT, failed, getJson, Load, pidAlive, readyPids, startDaemonSite, waitForExit, waitForReady, waitUntil, within } from './helpers/daemon.js';
import { sleep } from './helpers/wsgi-server.js';

const site = daemonSites(test);

test.serial('maximumRequests: 400 requests from 8 clients over 2 recycling processes, none fails', async (t) => {
  const s = await site({ group: { processes: 2, threads: 4, maximumRequests: 20 } });
  const first = await waitForReady(s.group, 2);
  // Jitter: each process's limit is maximumRequests plus up to 10%.
  for (const p of s.group.processes) t.true(p.limit >= 20 && p.limit <= 22, `limit ${p.limit}`);
  // Each request takes at least 50 ms, so the load outlasts a successor's start-up even on a
  // loaded machine (a recycled process keeps serving until its successor is ready).
  const load = new Load(s.url, 8, '/sleep?s=0.05', 400);
  await load.finished();
  t.log(load.describe());
  t.is(load.outcomes.length, 400);
  t.deepEqual(load.failures, [], load.describe());
  // Several generations of processes served the load.
  t.true(load.pids.size >= 3, load.describe());
  t.true(first.every((p) => load.pids.has(p)), load.describe());
  const recycled = s.logs.matching(/recycling .*maximum-requests 20 reached/);
  t.true(recycled.length >= load.pids.size - 2, `${recycled.length} recycle messages for ${load.pids.size} pids`);
  // The retired processes exit; two live ones remain and serve.
  for (const pid of first) await waitForExit(pid);
  await waitForReady(s.group, 2, first);
  t.false(failed(await attempt(s.url, '/pid')));
  t.is(s.group.stats().lost, 0);
  t.is(s.logs.errors().length, 0, s.logs.errors().map((r) => r.message).join('\n'));
});

test.serial('a recycled process finishes the requests it is running (maximumRequests 3, three slow requests)', async (t) => {
  const s = await site({ group: { processes: 1, threads: 4, maximumRequests: 3 } });
  const [old] = await waitForReady(s.group, 1);
  const slow = await Promise.all(Array.from({ length: 3 }, () => attempt(s.url, '/sleep?s=1.5')));
  for (const o of slow) {
    t.false(failed(o), `${o.status} ${o.error ?? ''} ${o.body}`);
    if (!failed(o)) t.is(JSON.parse(o.body).pid, old);
  }
  await waitForExit(old);
  const next = await getJson(`${s.url}/pid`, s.logs);
  t.not(next.pid, old);
  t.is(s.group.stats().lost, 0);
});

test.serial('gracefulTimeout: a recycled process whose request runs longer is stopped anyway', async (t) => {
  const s = await site({ group: { processes: 1, threads: 2, maximumRequests: 1, gracefulTimeout: 1000, shutdownTimeout: 1000 } });
  const [old] = await waitForReady(s.group, 1);
  const long = attempt(s.url, '/sleep?s=60');
  // The successor comes up; the old process is stopped within gracefulTimeout + shutdownTimeout
  // (+ the 2 s kill margin), long before the request would end.
  await waitForReady(s.group, 1, [old]);
  await waitForExit(old, 20_000);
  const o = await long;
  t.true(failed(o), `the cut-off request: ${o.status} ${o.body}`);
  t.false(failed(await attempt(s.url, '/pid')));
});

test.serial('restartInterval recycles processes on schedule, without failing requests', async (t) => {
  const s = await site({ group: { processes: 1, threads: 2, restartInterval: 1500 } });
  const [first] = await waitForReady(s.group, 1);
  const load = new Load(s.url, 2);
  try {
    // Two recycles: three generations serve the load.
    await waitUntil(() => load.pids.size >= 3, EVENT_TIMEOUT, `three generations (${load.describe()})`);
  } finally {
    await load.stop();
  }
  t.deepEqual(load.failures, [], load.describe());
  t.true(load.pids.has(first));
  t.true(s.logs.matching(/recycling .*restart-interval 1\.5 s/).length >= 2, s.logs.text());
});

test.serial('inactivityTimeout recycles an idle process but not a busy one', async (t) => {
  const s = await site({ group: { processes: 1, threads: 2, inactivityTimeout: 1500 } });
  const [first] = await waitForReady(s.group, 1);
  // Busy for 3 s (twice the timeout): the same process serves throughout.
  const load = new Load(s.url, 1, '/sleep?s=0.05');
  await sleep(3000);
  await load.stop();
  t.deepEqual(load.failures, [], load.describe());
  t.deepEqual(readyPids(s.group), [first]);
  t.is(s.logs.matching(/inactive for/).length, 0);
  // Idle: replaced.
  const [second] = await waitForReady(s.group, 1, [first]);
  t.true(s.logs.matching(/recycling .*inactive for 1\.5 s/).length >= 1, s.logs.text());
  await waitForExit(first);
  const r = await getJson(`${s.url}/pid`, s.logs);
  t.is(r.pid, second);
});

test.serial('memoryLimit recycles a process whose resident memory grows past it', async (t) => {
  const limit = 160 * 1024 * 1024;
  const s = await site({ group: { processes: 1, threads: 2, memoryLimit: limit } });
  const [first] = await waitForReady(s.group, 1);
  // Under the limit: kept (the check runs every second).
  const small = await getJson(`${s.url}/alloc?mb=8`, s.logs);
  t.is(small.pid, first);
  await sleep(2500);
  t.deepEqual(readyPids(s.group), [first]);
  // Over it: replaced once the successor is ready, then stopped.
  const big = await getJson(`${s.url}/alloc?mb=200`, s.logs);
  t.is(big.pid, first);
  await waitForReady(s.group, 1, [first]);
  const rec = s.logs.matching(/recycling .*over the limit/);
  t.true(rec.length >= 1, s.logs.text());
  t.true(rec[0].message.includes(String(limit)), rec[0]?.message);
  await waitForExit(first);
  t.false(pidAlive(first));
  const next = await getJson(`${s.url}/pid`, s.logs);
  t.not(next.pid, first);
});

test.serial('close() with a request stuck for a minute ends within gracefulTimeout + shutdownTimeout; no process is left', async (t) => {
  const s = await startDaemonSite({ group: { processes: 2, threads: 2, gracefulTimeout: 1000, shutdownTimeout: 1000 } });
  const pids = await waitForReady(s.group, 2);
  const stuck = attempt(s.url, '/sleep?s=60');
  await waitUntil(() => s.group.stats().processes.some((p) => p.busy === 1), EVENT_TIMEOUT, 'the stuck request to run');
  const quick = await attempt(s.url, '/pid');
  t.false(failed(quick));
  // 1 s graceful + 1 s shutdown + the 2 s kill margin: far below the minute the request wants.
  await within(s.group.close(), 20_000, 'the group to close');
  for (const pid of pids) t.false(pidAlive(pid), `daemon ${pid} still runs after close()`);
  const o = await stuck;
  t.true(failed(o), `${o.status} ${o.body}`);
  await s.close();
});
