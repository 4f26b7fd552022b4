/**
 * A wsgiref.validate-wrapped application (test/fixtures/wsgi/validate_app.wsgi) driven through
 * every gateway path over real sockets. The validator raises on any PEP 3333 violation by the
 * server (environ, wsgi.input, start_response, write, iteration, close), which pyhost turns into
 * a 500 and an error in the log: so each test asserts its status and a clean log.
 */
import test from 'ava';
import crypto from 'node:crypto';
import path from 'node:path';
import type { Engine } from '../ts/index.js';
import { parseResponse, rawHead, rawRequest, request } from './helpers/http.js';
import { fixture, LogCapture, serve, startEngine, tempDir, writeDataFile, type TestServer } from './helpers/wsgi-server.js';

const GROUP = 'validate';
let engine: Engine;
let logs: LogCapture;
let server: TestServer;

test.before(async () => {
  ({ engine, logs } = await startEngine());
  server = await serve(engine.mount(fixture('validate_app.wsgi'), { mountPoint: '/v', group: GROUP }));
  // Load the script before the tests run concurrently (first-load races are tested in
  // http-mounts.test.ts).
  const warm = await request(`${server.url}/v/get`);
  if (warm.status !== 200) throw new Error(`warm-up request failed: ${warm.status} ${warm.text()}\n${logs.text()}`);
});

test.after.always(async () => {
  await server?.close();
  await engine?.close();
});

/** Nothing the validator (or the gateway) complained about reached the log. */
function assertCleanLog(t: import('ava').ExecutionContext): void {
  const bad = logs.forGroup(GROUP).filter((r) => r.level === 'error' || r.level === 'warn');
  t.deepEqual(bad.map((r) => r.message), [], 'the validator or the gateway logged a problem');
}

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

function pseudoRandom(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

test('GET with a query string', async (t) => {
  const r = await request(`${server.url}/v/get?a=1&b=%20c&c`);
  t.is(r.status, 200, r.text());
  t.deepEqual(r.json(), { method: 'GET', query: 'a=1&b=%20c&c', script_name: '/v', path_info: '/get' });
  assertCleanLog(t);
});

test('POST with Content-Length read with read(n) in small pieces', async (t) => {
  const body = pseudoRandom(100_003);
  const r = await request(`${server.url}/v/read-n?7`, { method: 'POST', body, headers: { 'Content-Type': 'application/octet-stream' } });
  t.is(r.status, 200, r.text());
  const j = r.json();
  t.is(j.length, body.length);
  t.is(j.sha256, sha256(body));
  t.is(j.pieces, Math.ceil(body.length / 7));
  t.is(j.content_length, String(body.length));
  t.is(j.input_terminated, true);
  assertCleanLog(t);
});

test('POST read as read(CONTENT_LENGTH)', async (t) => {
  const body = pseudoRandom(65_537, 3);
  const r = await request(`${server.url}/v/read-cl`, { method: 'POST', body });
  t.is(r.status, 200, r.text());
  t.deepEqual(r.json(), { length: body.length, sha256: sha256(body) });
  assertCleanLog(t);
});

test('readline() splits at newlines and returns the unterminated tail', async (t) => {
  const r = await request(`${server.url}/v/readline`, { method: 'POST', body: 'a\nbb\n\nccc' });
  t.is(r.status, 200, r.text());
  t.deepEqual(r.json().lines, ['a\n', 'bb\n', '\n', 'ccc']);
  assertCleanLog(t);
});

test('readline(size) returns at most size bytes per call', async (t) => {
  const r = await request(`${server.url}/v/readline-n?4`, { method: 'POST', body: 'abcdefghij\nxy\nz' });
  t.is(r.status, 200, r.text());
  t.deepEqual(r.json().pieces, ['abcd', 'efgh', 'ij\n', 'xy\n', 'z']);
  assertCleanLog(t);
});

test('readlines() and iteration over wsgi.input', async (t) => {
  const body = 'one\ntwo\n' + 'x'.repeat(70_000) + '\nlast';
  for (const p of ['readlines', 'iter']) {
    const r = await request(`${server.url}/v/${p}`, { method: 'POST', body });
    t.is(r.status, 200, `${p}: ${r.text().slice(0, 200)}`);
    t.deepEqual(r.json().lines, ['one\n', 'two\n', 'x'.repeat(70_000) + '\n', 'last'], p);
  }
  assertCleanLog(t);
});

test('readline, read(n) and read() mixed on one body, sent in slow pieces', async (t) => {
  const head =
    'POST /v/mixed-read HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n\r\n';
  // The body arrives in three TCP writes; the reads must wait for bytes, not return short.
  const res = await rawRequest(server.port, [head, 'first', 50, ' line\n12', 50, '345restx']);
  const p = parseResponse(res.data, { closed: res.closed });
  t.is(p.status, 200, p.body.toString());
  t.deepEqual(JSON.parse(p.body.toString()), { first: 'first line\n', middle: '12345', rest: 'restx' });
  assertCleanLog(t);
});

test('chunked request body: no CONTENT_LENGTH, wsgi.input_terminated, read to EOF', async (t) => {
  const body = pseudoRandom(300_001, 7);
  const r = await request(`${server.url}/v/read-n?4096`, { method: 'POST', body, chunked: 10_000 });
  t.is(r.status, 200, r.text());
  const j = r.json();
  t.is(j.length, body.length);
  t.is(j.sha256, sha256(body));
  t.is(j.content_length, null);
  t.is(j.input_terminated, true);

  // The same over a raw socket, with odd chunk sizes and a chunk extension.
  const raw = Buffer.concat([
    Buffer.from(rawHead(server.port, 'POST', '/v/read-n?3', [['Transfer-Encoding', 'chunked']])),
    Buffer.from('5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n'),
  ]);
  const res = await rawRequest(server.port, raw);
  const p = parseResponse(res.data, { closed: res.closed });
  t.is(p.status, 200, p.body.toString());
  t.like(JSON.parse(p.body.toString()), { length: 11, sha256: sha256('hello world'), content_length: null });
  assertCleanLog(t);
});

test('write() callable, then the returned iterable', async (t) => {
  const r = await request(`${server.url}/v/write`);
  t.is(r.status, 200, r.text());
  t.is(r.text(), 'written-1;written-2;returned');
  t.true(r.complete);
  const r2 = await request(`${server.url}/v/write-only`);
  t.is(r2.status, 200);
  t.is(r2.text(), 'w0;w1;w2;');
  assertCleanLog(t);
});

test('generator response without Content-Length is chunked and complete', async (t) => {
  const res = await rawRequest(server.port, rawHead(server.port, 'GET', '/v/generator?1000'));
  const p = parseResponse(res.data, { closed: res.closed });
  t.is(p.status, 200);
  t.true(p.chunked || p.contentLength >= 0, 'the body must be delimited');
  t.true(p.complete);
  const expected = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join('');
  t.is(p.body.toString(), expected);
  assertCleanLog(t);
});

test('wsgi.file_wrapper response (iterated through the validator): the whole file', async (t) => {
  // The validator wraps the iterable, so the gateway cannot see the file wrapper here and iterates
  // it (the sendfile path and its Content-Length are tested in wsgi-environ.test.ts).
  const file = path.join(tempDir(), 'data.bin');
  const data = writeDataFile(file, 200_003);
  const r = await request(`${server.url}/v/file?${file}`);
  t.is(r.status, 200, r.text().slice(0, 200));
  t.true(r.complete);
  t.true(r.body.equals(data));
  assertCleanLog(t);
});

test('empty bodies: Content-Length 0, an iterable of empty strings, 204', async (t) => {
  const a = await request(`${server.url}/v/empty`);
  t.is(a.status, 200);
  t.is(a.body.length, 0);
  t.is(a.headers['content-length'], '0');
  const b = await request(`${server.url}/v/empty-gen`);
  t.is(b.status, 200);
  t.is(b.body.length, 0);
  t.true(b.complete);
  const c = await rawRequest(server.port, rawHead(server.port, 'GET', '/v/no-content'));
  const p = parseResponse(c.data, { closed: c.closed });
  t.is(p.status, 204);
  t.is(p.rest.length, 0, 'a 204 has no body bytes');
  assertCleanLog(t);
});

test('HEAD: the application runs, headers come back, no body bytes', async (t) => {
  const res = await rawRequest(server.port, rawHead(server.port, 'HEAD', '/v/head'));
  t.true(res.closed);
  const p = parseResponse(res.data, { closed: true, head: true });
  t.is(p.status, 200);
  t.is(p.header('x-method'), 'HEAD', 'the application saw REQUEST_METHOD HEAD');
  t.is(p.header('content-length'), '32');
  t.is(p.rest.length, 0, `no body after the head, got ${JSON.stringify(p.rest.toString())}`);
  assertCleanLog(t);
});

test('start_response with exc_info before the body replaces status and headers', async (t) => {
  const r = await request(`${server.url}/v/exc-info`);
  t.is(r.status, 503);
  t.is(r.statusMessage, 'Handled Error');
  t.is(r.headers['x-discarded'], undefined);
  t.is(r.text(), 'replaced by the error page\n');
  assertCleanLog(t);
});

test('keep-alive: several requests on one connection, each validated', async (t) => {
  const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
  const http = await import('node:http');
  const ports = new Set<number>();
  for (let i = 0; i < 5; i++) {
    const { status, body, localPort } = await new Promise<{ status: number; body: string; localPort: number }>((resolve, reject) => {
      const req = http.request(`${server.url}/v/generator?${i + 1}`, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, localPort: req.socket!.localPort! }));
      });
      req.on('error', reject);
      req.end();
    });
    t.is(status, 200);
    t.is(body, Array.from({ length: i + 1 }, (_, k) => `line ${k}\n`).join(''));
    ports.add(localPort);
  }
  agent.destroy();
  t.is(ports.size, 1, 'the connection was reused');
  assertCleanLog(t);
});
