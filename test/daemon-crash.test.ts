/**
 * Daemon supervision when things go wrong (issue 4): crashes (os._exit, real SIGSEGVs, SIGKILL
 * from outside) under load, requests queued behind a crash, the request right after one,
 * request timeouts (504 + the Python stacks in the log), a GIL held in C (deadlockTimeout),
 * queueTimeout (503), startupTimeout, and start-up failures retried with backoff. Real
 * pyhost-daemon processes behind a restrictEmbedded front.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { APP, attempt, daemonSites, EVENT_TIMEOUT, failed, getJson, Load, pidAlive, waitForExit, waitForReady, waitUntil } from './helpers/daemon.js';
import { skipUnlessPython, PY313 } from './helpers/pythons.js';
import { serve, startEngine, tempDir } from './helpers/wsgi-server.js';

const site = daemonSites(test);

/** A crash answer: 502 from the front, or (if the response had begun) a cut connection. */
function isCrashAnswer(o: { status: number; error?: string; complete: boolean }): boolean {
  return o.status === 502 || (o.status === 0 && o.error !== undefined) || (o.status === 200 && !o.complete);
}

test.serial('os._exit and a real SIGSEGV under load lose only the crashing request; the process is replaced', async (t) => {
  // One thread per process: the crashing request is the only one in flight on its process, so
  // exactly it may fail. The other requests wait in the front's queue or run on the sibling.
  const s = await site({ group: { processes: 2, threads: 1 } });
  const load = new Load(s.url, 6);
  try {
    await load.completed(30);
    const crashes: { path: string; signal: RegExp }[] = [
      { path: '/exit?after=0.05', signal: /exited unexpectedly \(exit code 1\)/ },
      { path: '/segv?after=0.05', signal: /exited unexpectedly \(killed by signal SIGSEGV\)/ },
      { path: '/kill?after=0.05', signal: /exited unexpectedly \(killed by signal SIGSEGV\)/ },
    ];
    for (const [i, c] of crashes.entries()) {
      const before = await waitForReady(s.group, 2);
      const o = await attempt(s.url, c.path);
      t.true(isCrashAnswer(o), `${c.path}: ${o.status} ${o.error ?? ''} ${o.body.slice(0, 200)}`);
      await s.logs.waitFor((r) => c.signal.test(r.message) && s.logs.matching(c.signal).length >= (i === 2 ? 2 : 1), EVENT_TIMEOUT);
      // The group is back to two processes, one of them new.
      const after = await waitForReady(s.group, 2);
      t.is(after.filter((p) => !before.includes(p)).length, 1, `before ${before}, after ${after}`);
      t.is(before.filter((p) => !after.includes(p)).length, 1);
      await load.completed(20);
    }
  } finally {
    await load.stop();
  }
  t.deepEqual(load.failures, [], load.describe());
  t.true(load.pids.size >= 4, `pids that served the load: ${load.describe()}`);
  const stats = s.group.stats();
  t.is(stats.restarts, 3, JSON.stringify(stats));
  t.is(stats.lost, 3, `exactly the three crashing requests were lost: ${JSON.stringify(stats)}`);
});

test.serial('requests queued behind a crashing process are served by its replacement', async (t) => {
  const s = await site({ group: { processes: 1, threads: 1 } });
  // os._exit, a SIGSEGV, and SIGKILL from outside (what the OOM killer sends).
  for (const crash of ['/exit?after=0.5', '/segv?after=0.5', 'SIGKILL']) {
    const [old] = await waitForReady(s.group, 1);
    const crashing = attempt(s.url, crash === 'SIGKILL' ? '/sleep?s=60' : crash);
    // Wait until the crashing request runs, then queue five more behind it.
    await waitUntil(() => s.group.stats().processes.some((p) => p.busy === 1), EVENT_TIMEOUT, 'the crashing request to run');
    const queued = Array.from({ length: 5 }, () => attempt(s.url, '/pid'));
    await waitUntil(() => s.group.stats().queued === 5, EVENT_TIMEOUT, 'five queued requests');
    if (crash === 'SIGKILL') process.kill(old, 'SIGKILL');
    const o = await crashing;
    t.true(isCrashAnswer(o), `${crash}: ${o.status} ${o.error ?? ''}`);
    const answers = await Promise.all(queued);
    for (const a of answers) {
      t.false(failed(a), `a request queued behind ${crash}: ${a.status} ${a.error ?? ''} ${a.body.slice(0, 200)}`);
      if (!failed(a)) t.not(JSON.parse(a.body).pid, old, 'served by the replacement');
    }
    t.false(pidAlive(old));
  }
  t.true(s.logs.matching(/exited unexpectedly \(killed by signal SIGKILL\)/).length === 1, s.logs.text());
});

test.serial('the request sent right after a crash is answered by a live process, not the dead one', async (t) => {
  // Four threads, so the front holds idle pooled connections to the process that crashes.
  const s = await site({ group: { processes: 1, threads: 4 } });
  const results: string[] = [];
  for (let i = 0; i < 5; i++) {
    const [old] = await waitForReady(s.group, 1);
    await Promise.all(Array.from({ length: 4 }, () => getJson(`${s.url}/sleep?s=0.05`, s.logs)));
    const crash = await attempt(s.url, i % 2 ? '/segv' : '/exit');
    const next = await attempt(s.url, '/pid');
    results.push(`crash ${crash.status}, next ${next.status} ${next.body.slice(0, 100)}`);
    t.true(isCrashAnswer(crash), results.at(-1));
    t.false(failed(next), `iteration ${i}: ${results.at(-1)}`);
    if (!failed(next)) t.not(JSON.parse(next.body).pid, old);
  }
  t.log(results.join('\n'));
  t.is(s.group.stats().lost, 5, `only the 5 crashing requests were lost: ${JSON.stringify(s.group.stats())}`);
});

test.serial('requestTimeout: the stuck request gets 504, the stacks of every thread are logged, the process is restarted', async (t) => {
  const s = await site({ group: { processes: 1, threads: 3, requestTimeout: 3000, shutdownTimeout: 2000, gracefulTimeout: 1000 } });
  const [old] = await waitForReady(s.group, 1);
  const stuckP = attempt(s.url, '/sleep?s=60');
  await waitUntil(() => s.group.stats().processes.some((p) => p.busy === 1), EVENT_TIMEOUT, 'the stuck request to run');
  await new Promise((r) => setTimeout(r, 1000));
  // Another request naps on a second thread while the first one times out (it started later
  // and ends before its own timeout).
  const nap = attempt(s.url, '/nap?s=2.5');
  await waitUntil(() => s.group.stats().processes.some((p) => p.busy === 2), EVENT_TIMEOUT, 'the nap to run');
  const stuck = await stuckP;
  t.is(stuck.status, 504, stuck.body);
  const rec = await s.logs.waitFor((r) => r.message.includes('exceeded the request timeout'), EVENT_TIMEOUT);
  t.is(rec.level, 'error');
  t.true(rec.message.includes('/sleep?s=60'), rec.message);
  t.true(rec.message.includes(`Python stacks of process ${old}`), rec.message);
  // The stack of the thread running the request: the app's function, file and line.
  t.regex(rec.message, /in stuck_in_sleep_for_timeout/);
  t.true(rec.message.includes(APP), rec.message);
  t.regex(rec.message, /time\.sleep\(seconds\)/);
  // ... and of the other threads: the napping one too.
  t.regex(rec.message, /in other_thread_napping/);
  t.true((rec.message.match(/^Thread 0x/gm) ?? []).length >= 2, rec.message);
  await nap;
  // Restarted: a new process, the old one gone; the next request succeeds.
  const [fresh] = await waitForReady(s.group, 1, [old]);
  t.not(fresh, old);
  await waitForExit(old);
  const next = await getJson(`${s.url}/pid`, s.logs);
  t.not(next.pid, old);
  t.true(s.logs.matching(/recycling .* a request exceeded its timeout/).length >= 1, s.logs.text());
});

test.serial('requestTimeout with the GIL held in C: requests after the 504 do not go to the stuck process', async (t) => {
  // deadlockTimeout off: only the request timeout acts. The stack dump cannot take the GIL.
  const s = await site({ group: { processes: 1, threads: 2, requestTimeout: 1000, deadlockTimeout: 0, shutdownTimeout: 1000, gracefulTimeout: 1000 } });
  const [old] = await waitForReady(s.group, 1);
  const stuck = await attempt(s.url, '/gil?s=8');
  t.is(stuck.status, 504, stuck.body);
  // The stuck process "stops taking work at once": the next request runs elsewhere.
  const next = await attempt(s.url, '/pid');
  t.false(failed(next), `${next.status} ${next.error ?? ''} ${next.body}`);
  if (!failed(next)) t.not(JSON.parse(next.body).pid, old, `the request after the 504 ran on the stuck process ${old}`);
  const rec = await s.logs.waitFor((r) => r.message.includes('exceeded the request timeout'), EVENT_TIMEOUT);
  t.regex(rec.message, /GIL was not released|did not report its stacks/, rec.message);
  await waitForExit(old);
});

test.serial('deadlockTimeout: a GIL held in C code for longer restarts the process', async (t) => {
  const s = await site({ group: { processes: 1, threads: 2, deadlockTimeout: 2000 } });
  const [old] = await waitForReady(s.group, 1);
  const o = await attempt(s.url, '/gil?s=60');
  t.true(isCrashAnswer(o), `${o.status} ${o.error ?? ''} ${o.body}`);
  const rec = await s.logs.waitFor((r) => r.message.includes('deadlock detected'), EVENT_TIMEOUT);
  t.regex(rec.message, /could not be acquired for 2 s/);
  await s.logs.waitFor((r) => /exited unexpectedly \(exit code 70\)/.test(r.message), EVENT_TIMEOUT);
  t.false(pidAlive(old));
  const [fresh] = await waitForReady(s.group, 1, [old]);
  const next = await getJson(`${s.url}/pid`, s.logs);
  t.is(next.pid, fresh);
});

const py313Missing = skipUnlessPython(test, PY313, 'deadlockTimeout in an own-GIL sub-interpreter');
if (!py313Missing) {
  test.serial('deadlockTimeout: a stuck own-GIL sub-interpreter (Python 3.13) restarts the process', async (t) => {
    const s = await site({
      group: { processes: 1, threads: 2, deadlockTimeout: 2000, python: PY313 },
      mount: { group: 'tenant', groupOptions: { gil: 'own' } },
    });
    const [old] = await waitForReady(s.group, 1);
    const info = await getJson(`${s.url}/info`, s.logs);
    t.is(info.environ['mod_wsgi.application_group'], 'tenant');
    t.deepEqual(info.version_info.slice(0, 2), [3, 13]);
    const o = await attempt(s.url, '/gil?s=60');
    t.true(isCrashAnswer(o), `${o.status} ${o.error ?? ''} ${o.body}`);
    const rec = await s.logs.waitFor((r) => r.message.includes('deadlock detected'), EVENT_TIMEOUT);
    t.regex(rec.message, /interpreter tenant/);
    await waitForReady(s.group, 1, [old]);
    t.false(failed(await attempt(s.url, '/pid')));
  });
}

test.serial('queueTimeout: a request that waits too long for a daemon thread gets 503', async (t) => {
  const s = await site({ group: { processes: 1, threads: 1, queueTimeout: 500 } });
  await waitForReady(s.group, 1);
  const busy = attempt(s.url, '/sleep?s=3');
  await waitUntil(() => s.group.stats().processes.some((p) => p.busy === 1), EVENT_TIMEOUT, 'the slow request to run');
  const waited = await attempt(s.url, '/pid');
  t.is(waited.status, 503, waited.body);
  await s.logs.waitFor((r) => /queue timeout/.test(r.message) && r.message.includes('/pid'), EVENT_TIMEOUT);
  const slow = await busy;
  t.is(slow.status, 200, slow.body);
  t.is(s.group.stats().queued, 0);
  // Nothing queued: answered at once.
  t.false(failed(await attempt(s.url, '/pid')));
  t.is(s.group.stats().lost, 0);
});

test.serial('startupTimeout: a process that is not ready in time is killed and start() rejects', async (t) => {
  // A .pth file in a pythonPath directory runs at start-up (site.addsitedir): it sleeps.
  const dir = tempDir('pyhost-daemon-slow-');
  const mark = path.join(dir, 'started');
  fs.writeFileSync(
    path.join(dir, 'slow_start.pth'),
    `import os, time; open(${JSON.stringify(mark)} + '.' + str(os.getpid()), 'w').close(); time.sleep(30)\n`,
  );
  const { engine, logs } = await startEngine({ restrictEmbedded: true });
  try {
    const g = engine.daemonGroup('slow', { processes: 1, pythonPath: [dir], startupTimeout: 1500 });
    const err = await t.throwsAsync(g.start());
    t.regex(err!.message, /did not start within 1500 ms/);
    // It did run (the .pth file wrote its mark) and was killed.
    const pids = fs.readdirSync(dir).filter((f) => f.startsWith('started.')).map((f) => Number(f.split('.')[1]));
    t.true(pids.length >= 1, fs.readdirSync(dir).join(' '));
    for (const pid of pids.slice(0, 1)) await waitForExit(pid, 10_000);
    t.true(logs.matching(/did not start within 1500 ms/).length >= 1, logs.text());
  } finally {
    await engine.close();
  }
  // After close(), no process of the group is left (the retries stop too).
  await new Promise((r) => setTimeout(r, 500));
  for (const f of fs.readdirSync(dir).filter((x) => x.startsWith('started.'))) {
    await waitForExit(Number(f.split('.')[1]), 10_000);
    t.pass();
  }
});

test.serial('processes failing at start-up are retried with backoff; the group recovers when the cause goes', async (t) => {
  // A .pth file in a pythonPath directory makes every start-up exit with status 3.
  const dir = tempDir('pyhost-daemon-failing-');
  const marks = path.join(dir, 'marks');
  fs.mkdirSync(marks);
  const pth = path.join(dir, 'fail_start.pth');
  fs.writeFileSync(pth, `import os; open(os.path.join(${JSON.stringify(marks)}, str(os.getpid())), 'w').close(); os._exit(3)\n`);
  const { engine, logs } = await startEngine({ restrictEmbedded: true });
  try {
    const g = engine.daemonGroup('failing', { processes: 1, threads: 1, pythonPath: [dir] });
    const err = await t.throwsAsync(g.start());
    t.regex(err!.message, /exited during start-up \(exit code 3\)/);
    const handler = engine.mount(APP, { processGroup: 'failing' });
    const server = await serve(handler);
    try {
      // A request now waits in the queue: no process can serve it yet.
      const waiting = attempt(server.url, '/pid');
      await new Promise((r) => setTimeout(r, 4000));
      const attempts = fs.readdirSync(marks).length;
      // Backoff (100 ms doubling): a handful of attempts in 4 s, not a tight loop.
      t.true(attempts >= 2 && attempts <= 12, `${attempts} start attempts in 4 s`);
      t.true(g.stats().restarts >= 2, JSON.stringify(g.stats()));
      for (const pid of fs.readdirSync(marks).map(Number)) t.false(pidAlive(pid));
      // The cause goes away: the next attempt starts, and the waiting request is served.
      fs.rmSync(pth);
      const o = await waiting;
      t.false(failed(o), `${o.status} ${o.error ?? ''} ${o.body}\n${logs.text()}`);
      const [pid] = await waitForReady(g, 1);
      t.is(JSON.parse(o.body).pid, pid);
    } finally {
      await server.close();
    }
  } finally {
    await engine.close();
  }
});
