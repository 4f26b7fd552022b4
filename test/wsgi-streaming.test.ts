/**
 * Streaming both ways with backpressure (test/fixtures/wsgi/stream_app.wsgi): 100 MB uploads
 * hashed by the application, a 1 GB response read whole while the server's RSS is sampled, a
 * paused client that must stall the application's generator, a client that disconnects
 * mid-stream (the iterable's close() must run), and an application that is slow to read its body.
 *
 * The server runs in its own minimal Node process (startChildServer) and so do the bulk clients,
 * so the RSS measured is the server's alone, over its whole life (200 MB at any time). Serial:
 * one transfer at a time.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { parseResponse, rawHead, request } from './helpers/http.js';
import { fixture, poll, sleep, startChildServer, type ChildServer } from './helpers/wsgi-server.js';

const MB = 1024 * 1024;
const RSS_LIMIT = 200 * MB;
const BLOCK = 65536;

let server: ChildServer;

test.before(async () => {
  server = await startChildServer({ mounts: [{ script: fixture('stream_app.wsgi'), options: { mountPoint: '/s', group: 'stream' } }] });
  const warm = await request(`${server.url}/s/stats?id=none`);
  if (warm.status !== 200) throw new Error(`warm-up: ${warm.status}\n${server.logs.text()}`);
});

test.after.always(async () => {
  await server?.close();
});

const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;

/** Runs `fn` and returns the server's RSS before and its peak during it. */
async function measured<T>(fn: () => Promise<T>): Promise<{ result: T; before: number; peak: number }> {
  await server.resetPeak();
  const before = (await server.memory()).rss;
  const result = await fn();
  const { peak } = await server.memory();
  return { result, before, peak };
}

async function stats(id: string): Promise<{ yielded: number; closed: boolean; finished: boolean; closed_at?: number }> {
  const r = await request(`${server.url}/s/stats?id=${id}`);
  return r.json();
}

/** A client in another process: GETs `url`, checks every 64 KiB block's index, prints a summary. */
const CLIENT = `
const http = require('node:http');
const url = process.argv[1];
http.get(url, (res) => {
  let total = 0, bad = 0, checked = 0, carry = Buffer.alloc(0);
  res.on('data', (c) => {
    // Check the 8-byte index at the start of each 64 KiB block.
    let buf = carry.length ? Buffer.concat([carry, c]) : c;
    let base = total - carry.length;
    let off = (65536 - (base % 65536)) % 65536;
    while (off + 8 <= buf.length) {
      const idx = Number(buf.readBigUInt64BE(off));
      if (idx !== (base + off) / 65536) bad++;
      checked++;
      off += 65536;
    }
    carry = off < buf.length && off + 8 > buf.length ? buf.subarray(off) : Buffer.alloc(0);
    total += c.length;
  });
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, total, bad, checked, complete: res.complete, te: res.headers['transfer-encoding'] || null })));
  res.on('error', (e) => console.log(JSON.stringify({ error: e.message, total })));
}).on('error', (e) => console.log(JSON.stringify({ error: e.message })));
`;

function runClient(url: string): Promise<{ status: number; total: number; bad: number; checked: number; complete: boolean; te: string | null; error?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CLIENT, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`client exited ${code}: ${out}`));
      }
    });
  });
}

test.serial('1 GB streamed response: read whole by the client, server RSS stays under 200 MB', async (t) => {
  const total = 1024 * MB;
  const { result, before, peak } = await measured(() => runClient(`${server.url}/s/stream?total=${total}&id=big`));
  t.is(result.error, undefined);
  t.is(result.status, 200);
  t.is(result.total, total);
  t.is(result.checked, total / BLOCK, 'every block header was checked');
  t.is(result.bad, 0, 'every 64 KiB block arrived in order');
  t.true(result.complete);
  t.is(result.te, 'chunked');
  const s = await stats('big');
  t.is(s.yielded, total);
  t.true(s.finished);
  t.true(s.closed, 'close() was called');
  t.log(`server RSS before ${mb(before)}, peak ${mb(peak)}`);
  t.true(peak < RSS_LIMIT, `server peak RSS ${mb(peak)} while streaming 1 GB`);
});

/** A raw client on its own connection; the test pauses, resumes or destroys its socket. */
function pausedClient(path: string) {
  const socket = net.connect(server.port, '127.0.0.1');
  let received = 0;
  let head: Buffer | undefined;
  const chunks: Buffer[] = [];
  let ended = false;
  socket.on('connect', () => socket.write(rawHead(server.port, 'GET', path)));
  socket.on('data', (c: Buffer) => {
    received += c.length;
    if (!head) chunks.push(c);
    if (!head && Buffer.concat(chunks).includes('\r\n\r\n')) head = Buffer.concat(chunks);
  });
  socket.on('end', () => (ended = true));
  socket.on('error', () => {});
  return {
    socket,
    received: () => received,
    ended: () => ended,
    head: () => head,
    waitFor: (bytes: number) => poll(() => received >= bytes, 10000, 5),
  };
}

test.serial('a paused client makes the application wait instead of buffering', async (t) => {
  const total = 512 * MB;
  const c = pausedClient(`/s/stream?total=${total}&id=slow&cl=1`);
  t.true(await c.waitFor(2 * MB), 'first 2 MB arrive');
  c.socket.pause();
  const { result: [s1, s2], before, peak } = await measured(async () => {
    await sleep(1500);
    const a = await stats('slow');
    await sleep(500);
    return [a, await stats('slow')];
  });
  const receivedWhilePaused = c.received();
  const ahead = s2.yielded - receivedWhilePaused;
  t.log(`paused: received ${mb(receivedWhilePaused)}, yielded ${mb(s2.yielded)} (ahead ${mb(ahead)}); server RSS ${mb(before)} -> peak ${mb(peak)}`);
  t.is(s1.yielded, s2.yielded, 'the generator is stalled while the client does not read');
  t.false(s2.finished);
  // What the generator ran ahead of the client is bounded by socket buffers plus pyhost's window,
  // a few MB, not the 512 MB body.
  t.true(ahead < 16 * MB, `the application ran ${mb(ahead)} ahead of the client`);
  t.true(peak - before < 32 * MB, `server RSS grew by ${mb(peak - before)} while the client was paused`);
  t.true(peak < RSS_LIMIT);

  // Resume: the rest arrives and the response ends.
  c.socket.resume();
  const done = await poll(() => c.ended(), 60000, 20);
  t.true(done, 'the response completed after resuming');
  const p = parseResponse(c.head()!);
  t.is(p.status, 200);
  t.is(p.contentLength, total);
  const headLen = c.head()!.indexOf('\r\n\r\n') + 4;
  t.is(c.received() - headLen, total, 'every body byte arrived');
  const s3 = await stats('slow');
  t.is(s3.yielded, total);
  t.true(s3.closed);
});

test.serial('client disconnect mid-stream: close() is called and the worker is freed', async (t) => {
  const total = 1024 * MB;
  const c = pausedClient(`/s/stream?total=${total}&id=gone`);
  t.true(await c.waitFor(4 * MB));
  c.socket.destroy();
  const closed = await poll(async () => (await stats('gone')).closed, 5000, 50);
  t.true(closed, 'close() was called after the client went away');
  const s = await stats('gone');
  t.false(s.finished, 'the generator was not run to the end');
  t.true(s.yielded < total / 2, `iteration stopped early (yielded ${(s.yielded / MB).toFixed(1)} MB)`);
  // A paused-then-gone client (the worker is waiting for the socket to drain when it goes).
  const d = pausedClient(`/s/stream?total=${total}&id=gone-paused`);
  t.true(await d.waitFor(1 * MB));
  d.socket.pause();
  await sleep(300);
  d.socket.destroy();
  t.true(await poll(async () => (await stats('gone-paused')).closed, 5000, 50), 'close() after a paused client left');
  // All 5 workers are free again: 5 concurrent slow requests complete.
  const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => request(`${server.url}/s/stream?total=1000&id=after${i}&delay=0.1`)));
  t.deepEqual(rs.map((r) => r.body.length), [1000, 1000, 1000, 1000, 1000]);
  t.deepEqual(server.logs.errors('stream').map((r) => r.message), [], 'a client going away is not an application error');
});

test.serial('a slow generator streams chunk by chunk (the first bytes arrive before the last is produced)', async (t) => {
  const c = pausedClient(`/s/stream?total=${10 * BLOCK}&id=trickle&delay=0.2`);
  t.true(await c.waitFor(BLOCK), 'the first block arrives');
  const s = await stats('trickle');
  t.false(s.finished, 'while the generator is still running');
  t.true(await poll(() => c.ended(), 10000, 20));
  t.true((await stats('trickle')).finished);
});

/**
 * An uploading client in another process (so this process's RSS is the server's): POSTs `total`
 * bytes of varied data in 64 KiB pieces (chunked unless `cl`), hashing what it sends; prints
 * "P <bytes produced>" every 100 ms and finally "R <json>" with the status and response body.
 */
const UPLOADER = `
const http = require('node:http');
const crypto = require('node:crypto');
const { Readable } = require('node:stream');
const [url, totalArg, cl] = process.argv.slice(1);
const total = Number(totalArg);
const MB = 1024 * 1024, BLOCK = 65536;
const pool = crypto.randomBytes(MB + BLOCK);
const hash = crypto.createHash('sha256');
let sent = 0, i = 0;
const body = new Readable({
  read() {
    if (sent >= total) return this.push(null);
    const n = Math.min(BLOCK, total - sent);
    const off = (i * 7919) % MB;
    const piece = Buffer.from(pool.subarray(off, off + n));
    piece.writeUInt32BE(i, 0);
    i++; sent += n;
    hash.update(piece);
    this.push(piece);
  },
});
const progress = setInterval(() => console.log('P ' + sent), 100);
const headers = cl === 'cl' ? { 'Content-Length': String(total) } : {};
const req = http.request(url, { method: 'POST', headers }, (res) => {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (c) => (text += c));
  res.on('end', () => {
    clearInterval(progress);
    console.log('R ' + JSON.stringify({ status: res.statusCode, body: text, sha256: hash.digest('hex'), sent }));
  });
});
req.on('error', (e) => { clearInterval(progress); console.log('R ' + JSON.stringify({ error: e.message })); });
body.pipe(req);
`;

interface UploadResult {
  status: number;
  body: string;
  sha256: string;
  sent: number;
  error?: string;
}

function runUploader(url: string, total: number, cl: boolean): { done: Promise<UploadResult>; produced: () => number } {
  let produced = 0;
  const done = new Promise<UploadResult>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', UPLOADER, url, String(total), cl ? 'cl' : 'chunked'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let result: UploadResult | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      buf += c;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('P ')) produced = Number(line.slice(2));
        else if (line.startsWith('R ')) result = JSON.parse(line.slice(2));
      }
    });
    child.on('error', reject);
    child.on('close', (code) => (result ? resolve(result) : reject(new Error(`uploader exited ${code} without a result`))));
  });
  return { done, produced: () => produced };
}

test.serial('100 MB upload with Content-Length is hashed correctly by the application', async (t) => {
  const total = 100 * MB;
  const { result: r, peak } = await measured(() => runUploader(`${server.url}/s/upload`, total, true).done);
  t.is(r.error, undefined);
  t.is(r.status, 200, r.body);
  const j = JSON.parse(r.body);
  t.is(j.length, total);
  t.is(j.sha256, r.sha256);
  t.is(j.content_length, String(total));
  // Memory is the 1 GB test's job: here the consumed body chunks may still await V8's GC.
  t.log(`server peak RSS ${mb(peak)} during the upload`);
});

test.serial('1 GB upload streams through: hashed correctly, server RSS grows by far less than the body', async (t) => {
  const total = 1024 * MB;
  const { result: r, before, peak } = await measured(() => runUploader(`${server.url}/s/upload`, total, true).done);
  t.is(r.status, 200, r.body);
  const j = JSON.parse(r.body);
  t.is(j.length, total);
  t.is(j.sha256, r.sha256);
  // Consumed chunks are freed when V8 collects their Buffers, so some garbage is normal; a
  // body held in memory would show as ~1 GB.
  t.log(`server RSS ${mb(before)} -> peak ${mb(peak)} during a 1 GB upload`);
  t.true(peak - before < RSS_LIMIT, `server RSS ${mb(before)} -> peak ${mb(peak)} during a 1 GB upload`);
});

test.serial('100 MB chunked upload is hashed correctly (read(n) and line iteration)', async (t) => {
  const total = 100 * MB;
  for (const p of ['upload', 'upload-lines']) {
    const { result: r, peak } = await measured(() => runUploader(`${server.url}/s/${p}`, total, false).done);
    t.is(r.status, 200, `${p}: ${r.body}`);
    const j = JSON.parse(r.body);
    t.is(j.length, total, p);
    t.is(j.sha256, r.sha256, p);
    if (p === 'upload') t.is(j.content_length, null);
    t.log(`${p}: server peak RSS ${mb(peak)} during the upload`);
  }
});

test.serial('an application that does not read yet stalls the uploading client (no buffering of the body)', async (t) => {
  const total = 100 * MB;
  await server.resetPeak();
  const before = (await server.memory()).rss;
  const up = runUploader(`${server.url}/s/upload?wait=2`, total, true);
  await sleep(1700);
  const producedWhileWaiting = up.produced();
  const peakWhileWaiting = (await server.memory()).peak;
  const r = await up.done;
  const { peak } = await server.memory();
  t.log(`client produced ${mb(producedWhileWaiting)} while the application slept; server RSS ${mb(before)} -> ${mb(peakWhileWaiting)} meanwhile`);
  t.true(producedWhileWaiting > 0, 'the upload had started');
  // Socket buffers and pyhost's input window (about 1 MB) hold a few MB; the rest must wait.
  t.true(producedWhileWaiting < 24 * MB, `the client could push ${mb(producedWhileWaiting)} before the application read anything`);
  t.true(peakWhileWaiting - before < 32 * MB, `server RSS grew ${mb(peakWhileWaiting - before)} while the body waited`);
  t.is(r.status, 200, r.body);
  const j = JSON.parse(r.body);
  t.is(j.length, total);
  t.is(j.sha256, r.sha256);
  t.true(peak < RSS_LIMIT, `server peak RSS ${mb(peak)} during the upload`);
});
