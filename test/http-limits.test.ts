/**
 * Mount limits (test/fixtures/wsgi/limits_app.wsgi): limitRequestBody (413), queueTimeout (503
 * when every worker is busy), requestTimeout (504, the stuck thread's Python stack in the log,
 * the worker freed), and the group's queueLimit (503 once the queue is full).
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { Engine } from '../ts/index.js';
import { chunkedBody, parseResponse, rawHead, rawRequest, request, type HttpResponse } from './helpers/http.js';
import { fixture, LogCapture, poll, serve, sleep, startEngine, tempDir, type TestServer } from './helpers/wsgi-server.js';

const APP = fixture('limits_app.wsgi');
let engine: Engine;
let logs: LogCapture;
let dir: string;
const servers: TestServer[] = [];

test.before(async () => {
  ({ engine, logs } = await startEngine());
  dir = tempDir();
});

test.after.always(async () => {
  for (const s of servers) await s.close();
  await engine?.close();
});

async function mountServer(options: Parameters<Engine['mount']>[1]): Promise<TestServer> {
  // Preloaded, so that starting the interpreter and importing the script (slow on a busy machine)
  // does not count against the timeouts under test.
  const handler = engine.mount(APP, { ...options, preload: true });
  await handler.ready;
  const s = await serve(handler);
  servers.push(s);
  const warm = await request(`${s.url}/ok`);
  if (warm.status !== 200) throw new Error(`warm-up: ${warm.status} ${warm.text()}\n${logs.text()}`);
  return s;
}

async function marks(s: TestServer): Promise<string[]> {
  return JSON.parse((await request(`${s.url}/marks`)).text());
}

/** Starts a request that blocks its worker until `release()` creates the flag file. */
function blocker(s: TestServer, id: string): { done: Promise<HttpResponse>; release(): void } {
  const flag = path.join(dir, `${id}.flag`);
  const done = request(`${s.url}/block?id=${id}&file=${encodeURIComponent(flag)}`);
  return { done, release: () => fs.writeFileSync(flag, '') };
}

/** Waits until the group has exactly `inflight` requests admitted and `busy` workers running. */
async function waitGroup(group: string, inflight: number, busy: number): Promise<void> {
  const g = engine.listGroups().find((x) => x.name === group)!;
  const ok = await poll(() => {
    const st = g.stats();
    return st.inflight === inflight && st.busy.length === busy;
  }, 5000, 5);
  if (!ok) throw new Error(`group ${group}: expected ${inflight} in flight and ${busy} busy, got ${JSON.stringify(g.stats())}`);
}

test('limitRequestBody: Content-Length over the limit is 413 before the application runs', async (t) => {
  const s = await mountServer({ group: 'limit-body', limitRequestBody: 1000 });
  const over = await request(`${s.url}/upload`, { method: 'POST', body: Buffer.alloc(1001, 97) });
  t.is(over.status, 413);
  t.false((await marks(s)).includes('upload'), 'the application was not called');
  const at = await request(`${s.url}/upload`, { method: 'POST', body: Buffer.alloc(1000, 97) });
  t.is(at.status, 200);
  t.is(at.text(), 'read 1000');
  // Raw: only the head is sent with a large Content-Length; the answer must not wait for the body.
  const res = await rawRequest(s.port, rawHead(s.port, 'POST', '/upload', [['Content-Length', '100000000']]), {
    timeoutMs: 3000,
    until: (d) => d.includes('\r\n\r\n'),
  });
  t.false(res.timedOut, 'answered without reading the body');
  t.is(parseResponse(res.data, { closed: true }).status, 413);
});

test('limitRequestBody: a chunked body growing past the limit is 413', async (t) => {
  const s = await mountServer({ group: 'limit-chunked', limitRequestBody: 1000 });
  const res = await rawRequest(
    s.port,
    Buffer.concat([Buffer.from(rawHead(s.port, 'POST', '/upload', [['Transfer-Encoding', 'chunked']])), chunkedBody(Buffer.alloc(1500, 98), 500)]),
    { timeoutMs: 5000 },
  );
  const p = parseResponse(res.data, { closed: res.closed });
  t.is(p.status, 413, res.data.toString('latin1').slice(0, 200));
  // Under the limit, chunked bodies pass.
  const ok = await request(`${s.url}/upload`, { method: 'POST', body: Buffer.alloc(900, 99), chunked: 300 });
  t.is(ok.status, 200);
  t.is(ok.text(), 'read 900');
});

test('queueTimeout: 503 when the only worker stays busy; the queued request never runs', async (t) => {
  const s = await mountServer({ group: 'queue-timeout', groupOptions: { threads: 1 }, queueTimeout: 300 });
  await waitGroup('queue-timeout', 0, 0); // the warm-up request has finished
  const b = blocker(s, 'qt-block');
  await waitGroup('queue-timeout', 1, 1);
  const queued = await request(`${s.url}/mark?id=qt-queued`);
  t.is(queued.status, 503);
  t.true(logs.errors('queue-timeout').some((r) => /queue timeout/i.test(r.message)), logs.text('queue-timeout'));
  b.release();
  const first = await b.done;
  t.is(first.status, 200);
  t.is(first.text(), 'released qt-block');
  const after = await request(`${s.url}/mark?id=qt-after`);
  t.is(after.status, 200, 'the worker serves again');
  const m = await marks(s);
  t.true(m.includes('qt-after'));
  t.false(m.includes('qt-queued'), 'a request withdrawn from the queue is never run');
});

test('requestTimeout: 504, the stuck thread stack in the log, and the worker is freed', async (t) => {
  const s = await mountServer({ group: 'request-timeout', groupOptions: { threads: 1 }, requestTimeout: 500 });
  const r = await request(`${s.url}/stuck`, { timeoutMs: 15000 });
  t.is(r.status, 504);
  const rec = await logs.waitFor((x) => x.group === 'request-timeout' && /request timeout/i.test(x.message), 5000);
  t.is(rec.level, 'error');
  t.true(rec.message.includes('pyhost_stuck_in_loop'), `the stack names the function the thread is stuck in:\n${rec.message}`);
  t.true(rec.message.includes(APP), 'and the script file');
  t.false(r.text().includes('pyhost_stuck_in_loop'), 'no stack in the response');
  // The worker is interrupted and freed (within a bound), then the next request on the single
  // worker succeeds.
  await waitGroup('request-timeout', 0, 0);
  const next = await request(`${s.url}/ok`, { timeoutMs: 10000 });
  t.is(next.status, 200);
  t.is(next.text(), 'ok');
  const state = JSON.parse((await request(`${s.url}/stuck-state`)).text());
  t.is(state.stuck_interrupted, 1, 'the stuck call was interrupted');
  t.is(state.stuck_exception, 'TimeoutError');
});

test('requestTimeout does not cut a response that is streaming normally within the limit', async (t) => {
  const s = await mountServer({ group: 'request-timeout-ok', requestTimeout: 3000 });
  const b = blocker(s, 'rt-ok');
  await sleep(700);
  b.release();
  const r = await b.done;
  t.is(r.status, 200);
  t.is(r.text(), 'released rt-ok');
  t.deepEqual(logs.errors('request-timeout-ok'), []);
});

test('queueLimit: with every worker busy and the queue full, more requests get 503 at once', async (t) => {
  const s = await mountServer({ group: 'queue-limit', groupOptions: { threads: 1, queueLimit: 1 } });
  await waitGroup('queue-limit', 0, 0);
  const b = blocker(s, 'ql-block');
  await waitGroup('queue-limit', 1, 1);
  const waiting = request(`${s.url}/mark?id=ql-waiting`); // fills the queue (1)
  await waitGroup('queue-limit', 2, 1);
  const refused = await request(`${s.url}/mark?id=ql-refused`);
  t.is(refused.status, 503);
  t.true(logs.errors('queue-limit').some((r) => /queue full/i.test(r.message)), logs.text('queue-limit'));
  b.release();
  t.is((await b.done).status, 200);
  const w = await waiting;
  t.is(w.status, 200, 'the queued request ran once the worker was free');
  t.is(w.text(), 'marked ql-waiting');
  const m = await marks(s);
  t.false(m.includes('ql-refused'));
});
