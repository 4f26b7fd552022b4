/**
 * The serving threads of a daemon process (csrc/http/listener_role.*, connection_poller.*):
 * one thread waits on every connection and serves the request it gets itself; while it is away
 * serving, a standby takes its role over, so a long request never holds up the other
 * connections. Stopping a process lets each thread drop its interpreter states, so Python
 * finalises cleanly.
 */
import test from 'ava';
import { attempt, daemonSites, failed, getJson, Load, waitForExit } from './helpers/daemon.js';
import { sleep } from './helpers/wsgi-server.js';

const site = daemonSites(test);

test('a request sleeping in Python does not hold up the other connections: /pid is answered while two sleepers still run', async (t) => {
  const s = await site({ group: { processes: 1, threads: 3 } });
  const order: string[] = [];
  const track = (name: string, p: ReturnType<typeof attempt>) =>
    p.then((o) => {
      order.push(name);
      return o;
    });
  const sleepers = [track('sleep1', attempt(s.url, '/nap?s=3')), track('sleep2', attempt(s.url, '/nap?s=3'))];
  await sleep(500); // both are running in the daemon by now
  const quick = await track('pid', attempt(s.url, '/pid'));
  const slow = await Promise.all(sleepers);
  t.false(failed(quick), JSON.stringify(quick));
  for (const o of slow) t.false(failed(o), JSON.stringify(o));
  t.is(order[0], 'pid', `completion order ${order.join(', ')}`);
});

test('a request holding the GIL in C code: the other connections are served once it lets go, and none fails', async (t) => {
  const s = await site({ group: { processes: 1, threads: 3 } });
  const holder = attempt(s.url, '/gil?s=1');
  await sleep(300);
  const others = await Promise.all([attempt(s.url, '/pid'), attempt(s.url, '/pid')]);
  const held = await holder;
  t.false(failed(held), JSON.stringify(held));
  for (const o of others) t.false(failed(o), JSON.stringify(o));
  const pids = new Set(others.map((o) => JSON.parse(o.body).pid));
  t.is(pids.size, 1);
});

test('many connections over few threads: every request of 8 clients is answered, by one process', async (t) => {
  const s = await site({ group: { processes: 1, threads: 2 } });
  const load = new Load(s.url, 8, '/pid', 400);
  await load.finished();
  t.is(load.outcomes.length, 400);
  t.deepEqual(load.failures, [], load.describe());
  t.is(load.pids.size, 1, load.describe());
  // The app counts its requests: all 400 reached the one process (plus none lost or doubled).
  const after = await getJson(`${s.url}/pid`, s.logs);
  t.is(after.count, 401);
});

test('stopping a process that served a sub-interpreter group from several threads finalises Python', async (t) => {
  const s = await site({ group: { processes: 1, threads: 4 } });
  const load = new Load(s.url, 4, '/info', 40);
  await load.finished();
  t.deepEqual(load.failures, [], load.describe());
  const info = JSON.parse(load.outcomes[0].body);
  t.truthy(info.environ['mod_wsgi.application_group'], 'the app runs in a named group (a sub-interpreter)');
  const pid = info.pid as number;
  await s.close();
  await waitForExit(pid);
  const text = s.logs.text();
  t.notRegex(text, /not finalised/, text);
});
