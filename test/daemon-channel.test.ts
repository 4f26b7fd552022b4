/**
 * The request channel (csrc/daemon/connection_poller.*, csrc/front/request_channel.*): requests
 * of a loop turn travel to a daemon process together on one socket, naming the connection that
 * carries their body and response; small whole responses come back on the channel, the rest on
 * the connection. These tests check that every answer reaches its own request under concurrency,
 * whichever socket carried it, and that connections the front drops do not pile up in the daemon.
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import test from 'ava';
import { attempt, daemonSites, failed, getJson } from './helpers/daemon.js';
import { request } from './helpers/http.js';
import { sleep } from './helpers/wsgi-server.js';

const site = daemonSites(test);

function expected(tag: string, n: number): string {
  return `${tag}|`.repeat(Math.floor(n / (tag.length + 1)) + 1).slice(0, n);
}

test('16 clients, mixed answers (small on the channel, large or in parts on the connection, uploads): each gets its own', async (t) => {
  const s = await site({ group: { processes: 1, threads: 4 } });
  // 65,000 bytes fits a channel response, 66,000 does not; parts=2 is not whole at its first write.
  const sizes = [13, 1000, 65_000, 66_000, 300_000];
  const wrong: string[] = [];
  let answered = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, client) => {
      for (let i = 0; i < 20; i++) {
        const tag = `c${client}r${i}`;
        if (i % 5 === 4) {
          const body = crypto.randomBytes(20_000 + client * 100 + i);
          const r = await request(`${s.url}/upload`, { method: 'POST', body, timeoutMs: 60_000 });
          const got = r.json<{ sha256: string }>();
          if (r.status !== 200 || got.sha256 !== crypto.createHash('sha256').update(body).digest('hex')) wrong.push(`${tag} upload: ${r.status}`);
        } else {
          const n = sizes[(client + i) % sizes.length];
          const parts = i % 3 === 0 ? '&parts=2' : '';
          const o = await attempt(s.url, `/echo?tag=${tag}&n=${n}${parts}`);
          if (failed(o) || o.body !== expected(tag, n)) wrong.push(`${tag} n=${n}${parts}: ${o.status} ${o.body.slice(0, 40)} (${o.body.length} bytes)`);
        }
        answered++;
      }
    }),
  );
  t.is(answered, 320);
  t.deepEqual(wrong, [], s.logs.text());
});

test('clients that go away mid-request: the daemon closes their connections (its descriptors stay bounded)', async (t) => {
  const s = await site({ group: { processes: 1, threads: 4 } });
  const { pid } = await getJson<{ pid: number }>(`${s.url}/pid`, s.logs);
  const fds = () => fs.readdirSync(`/proc/${pid}/fd`).length;
  const before = fds();
  // A long request keeps a connection (and with it the channel) open throughout, as on a busy site.
  const keeper = attempt(s.url, '/sleep?s=2');
  await sleep(100);
  for (let round = 0; round < 3; round++) {
    // Each gives up after 50 ms, while its request sleeps (or waits) in the daemon: the front
    // closes the connection, and the answer, when it comes, has nobody to go to.
    await Promise.all(Array.from({ length: 20 }, () => attempt(s.url, '/sleep?s=0.2', { timeoutMs: 50 })));
  }
  const kept = await keeper;
  t.false(failed(kept), JSON.stringify(kept));
  // The abandoned requests still run (3 threads, 0.2 s each): their connections close after.
  let after = fds();
  for (let i = 0; i < 50 && after > before + 4; i++) {
    await sleep(100);
    after = fds();
  }
  t.true(after <= before + 4, `daemon descriptors: ${before} before, ${after} after 60 abandoned requests`);
  const o = await attempt(s.url, '/pid');
  t.false(failed(o), JSON.stringify(o));
  t.is(JSON.parse(o.body).pid, pid);
});
