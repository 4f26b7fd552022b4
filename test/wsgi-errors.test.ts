/**
 * Errors and response edge cases of the WSGI gateway (test/fixtures/wsgi/behave.wsgi), read over
 * raw sockets with a strict parser so a malformed or mis-framed response fails the test.
 * Expected behaviour: docs/mod_wsgi-reference.md section 4 (where pyhost claims to match it).
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { Engine } from '../ts/index.js';
import { parseResponse, rawHead, rawRequest, request, type ParsedResponse } from './helpers/http.js';
import { fixture, LogCapture, poll, serve, startEngine, tempDir, writeDataFile, writeScript, type TestServer } from './helpers/wsgi-server.js';

const GROUP = 'behave';
const SCRIPT = fixture('behave.wsgi');
let engine: Engine;
let logs: LogCapture;
let server: TestServer;
let dir: string;
let dataFile: string; // served by the file_wrapper modes
let data: Buffer;

test.before(async () => {
  ({ engine, logs } = await startEngine());
  dir = tempDir();
  dataFile = path.join(dir, 'data.bin');
  data = writeDataFile(dataFile, 200_003);
  server = await serve(engine.mount(SCRIPT, { mountPoint: '/b', group: GROUP }));
  const warm = await request(`${server.url}/b/ok`);
  if (warm.status !== 200) throw new Error(`warm-up: ${warm.status}\n${logs.text()}`);
});

test.after.always(async () => {
  await server?.close();
  await engine?.close();
});

async function get(mode: string, opts: { method?: string; headers?: [string, string][]; keepAlive?: boolean; timeoutMs?: number } = {}): Promise<{ p: ParsedResponse; closed: boolean; raw: Buffer }> {
  const headers = opts.headers ?? [];
  if (opts.keepAlive) headers.push(['Connection', 'keep-alive']);
  const res = await rawRequest(server.port, rawHead(server.port, opts.method ?? 'GET', `/b/${mode}`, headers), { timeoutMs: opts.timeoutMs ?? 5000 });
  const p = parseResponse(res.data, { closed: res.closed, head: opts.method === 'HEAD' });
  return { p, closed: res.closed, raw: res.data };
}

/** A 500 with a short plain-text body (no traceback) and an error log record containing `needle`. */
async function assert500(t: ExecutionContext, mode: string, needle: string | RegExp): Promise<void> {
  const { p, raw } = await get(mode);
  t.is(p.status, 500, `${mode}: ${raw.toString('latin1').slice(0, 300)}`);
  t.true(p.complete, `${mode}: the 500 response is complete`);
  t.regex(p.header('content-type') ?? '', /^text\/plain/, mode);
  const body = p.body.toString();
  t.false(/Traceback|Error:|File "/.test(body), `${mode}: no traceback in the response: ${body}`);
  t.true(body.length < 200, mode);
  const pred = (m: string) => (typeof needle === 'string' ? m.includes(needle) : needle.test(m));
  const rec = await logs.waitFor((r) => r.group === GROUP && pred(r.message), 3000).catch(() => undefined);
  t.truthy(rec, `${mode}: an error naming ${needle} is logged; log:\n${logs.text(GROUP)}`);
  if (rec) t.is(rec.level, 'error', mode);
}

test('exception before start_response: 500, plain body, traceback in the log', async (t) => {
  await assert500(t, 'raise_before', 'raise_before: failing before start_response');
  const rec = logs.matching('raise_before: failing')[0];
  t.true(rec.message.includes(`Exception occurred processing WSGI script '${SCRIPT}'.`), rec.message);
  t.true(rec.message.includes('Traceback (most recent call last)'), rec.message);
  t.true(rec.message.includes('in application'), 'the traceback names the failing function');
});

test('exception after start_response but before any body: still a 500', async (t) => {
  await assert500(t, 'raise_after_sr', 'raise_after_sr: failing after start_response');
  await assert500(t, 'raise_in_iter_first', 'raise_in_iter_first: failing before the first chunk');
});

test('exception mid-stream (chunked): the client sees a truncated response and a closed connection', async (t) => {
  const { p, closed } = await get('raise_mid_body', { keepAlive: true });
  t.is(p.status, 200);
  t.true(p.chunked);
  t.is(p.body.toString(), 'first chunk\n');
  t.false(p.complete, 'no terminating 0-chunk: the client must not take the body as whole');
  t.true(closed, 'the server closed the (keep-alive) connection');
  t.truthy(await logs.waitFor((r) => r.message.includes('raise_mid_body: failing after the first chunk'), 3000));
});

test('exception mid-stream with Content-Length: fewer bytes than announced, connection closed', async (t) => {
  const { p, closed } = await get('raise_mid_body_cl', { keepAlive: true });
  t.is(p.status, 200);
  t.is(p.contentLength, 100);
  t.is(p.body.toString(), 'first chunk\n');
  t.false(p.complete);
  t.true(closed);
  // node:http sees the same truncation.
  const r = await request(`${server.url}/b/raise_mid_body_cl`);
  t.false(r.complete);
});

test('exception after write(): truncated response', async (t) => {
  const { p, closed } = await get('raise_after_write', { keepAlive: true });
  t.is(p.status, 200);
  t.is(p.body.toString(), 'written\n');
  t.false(p.complete);
  t.true(closed);
});

test('start_response with exc_info after the head was sent re-raises: truncated, error logged', async (t) => {
  const { p, closed } = await get('exc_info_after_body', { keepAlive: true });
  t.is(p.status, 200);
  t.is(p.body.toString(), 'partial\n');
  t.false(p.complete);
  t.true(closed);
  const rec = await logs.waitFor((r) => r.message.includes('exc_info_after_body: error after the head was sent'), 3000);
  t.is(rec.level, 'error');
});

test('bad status strings: 500 and a logged error, never sent', async (t) => {
  await assert500(t, 'status_abc', "'abc'");
  await assert500(t, 'status_no_reason', "'200'");
  await assert500(t, 'status_int', /status.*int|int.*status/);
  await assert500(t, 'status_bytes', /status.*bytes|bytes.*status/);
  const { p } = await get('status_newline');
  t.is(p.status, 500);
  t.is(p.header('x-injected'), undefined);
});

test('bad headers: newline, non-latin-1, space or colon in a name, not a list, not tuples, bytes', async (t) => {
  await assert500(t, 'header_newline', /X-Bad/);
  await assert500(t, 'header_lf', /'a\\nb'/);
  await assert500(t, 'header_non_latin1', /latin-1/);
  await assert500(t, 'header_name_space', "'X Probe'");
  await assert500(t, 'header_name_colon', "'X-Probe:'");
  await assert500(t, 'headers_tuple', /headers.*tuple|list.*headers/);
  await assert500(t, 'headers_lists', /tuple.*list|header.*list/);
  await assert500(t, 'header_bytes', /bytes/);
  for (const mode of ['header_newline', 'header_lf']) {
    const { p } = await get(mode);
    t.is(p.header('x-injected'), undefined, mode);
    t.is(p.header('x-bad'), undefined, mode);
  }
});

test('a latin-1 header value is sent as its byte', async (t) => {
  const { p, raw } = await get('header_latin1');
  t.is(p.status, 200);
  t.is(p.header('x-latin1'), 'caf\xe9');
  t.true(raw.includes(Buffer.from('X-Latin1: caf\xe9\r\n', 'latin1')));
});

test('str instead of bytes: items, generator items, a str result, write(str): 500', async (t) => {
  await assert500(t, 'item_str', /bytes.*str|str.*bytes/);
  await assert500(t, 'item_str_gen', /bytes.*str|str.*bytes/);
  await assert500(t, 'return_str', /bytes.*str|str.*bytes|return/);
  await assert500(t, 'write_str', /bytes.*str|str.*bytes|bytestring/);
});

test('None result and no start_response: 500', async (t) => {
  await assert500(t, 'return_none', /NoneType/);
  await assert500(t, 'no_start_response', /start_response/);
});

test('start_response twice without exc_info: a fatal error per PEP 3333 (500)', async (t) => {
  // mod_wsgi 4.9 lets the second call win (201); PEP 3333 calls this a fatal error, and pyhost
  // follows the PEP. Reported as a difference, not asserted as mod_wsgi's behaviour.
  await assert500(t, 'sr_twice', /start_response\(\) called a second time/);
});

test('Content-Length shorter than the body: truncated to it, and keep-alive stays in sync', async (t) => {
  // Pipelined: the second response must start exactly after the 5 announced bytes.
  const payload =
    rawHead(server.port, 'GET', '/b/cl_short', [['Connection', 'keep-alive']]) +
    rawHead(server.port, 'GET', '/b/cl_short_gen', [['Connection', 'keep-alive']]) +
    rawHead(server.port, 'GET', '/b/ok');
  const res = await rawRequest(server.port, payload);
  const first = parseResponse(res.data);
  t.is(first.status, 200);
  t.is(first.contentLength, 5);
  t.is(first.body.toString(), 'hello');
  const second = parseResponse(first.rest);
  t.is(second.status, 200);
  t.is(second.body.toString(), 'hello', 'generator chunks are cut at Content-Length too');
  const third = parseResponse(second.rest, { closed: res.closed });
  t.is(third.status, 200);
  t.is(third.body.toString(), 'ok');
  t.is(third.rest.length, 0, 'no stray bytes after the last response');
});

test('Content-Length longer than the body: the connection is closed (no desync), list or generator', async (t) => {
  for (const mode of ['cl_long_gen', 'cl_long']) {
    const { p, closed } = await get(mode, { keepAlive: true, timeoutMs: 2000 });
    t.is(p.status, 200, mode);
    t.is(p.body.toString(), 'hello world', mode);
    t.false(p.complete, mode);
    t.true(closed, `${mode}: the server must close the connection, not leave the client waiting for 89 more bytes`);
  }
});

test('HEAD: the application runs, its headers are sent, no body bytes (keep-alive in sync)', async (t) => {
  const payload =
    rawHead(server.port, 'HEAD', '/b/head', [['Connection', 'keep-alive']]) +
    rawHead(server.port, 'HEAD', '/b/head_gen', [['Connection', 'keep-alive']]) +
    rawHead(server.port, 'GET', '/b/ok');
  const res = await rawRequest(server.port, payload);
  const a = parseResponse(res.data, { head: true });
  t.is(a.status, 200);
  t.is(a.header('x-method'), 'HEAD');
  t.is(a.header('content-length'), '26', "the application's Content-Length is kept");
  const b = parseResponse(a.rest, { head: true });
  t.is(b.status, 200, `unexpected bytes after the first HEAD response: ${JSON.stringify(a.rest.toString('latin1').slice(0, 80))}`);
  t.is(b.header('x-method'), 'HEAD');
  const c = parseResponse(b.rest, { closed: res.closed });
  t.is(c.status, 200, `unexpected bytes after the second HEAD response: ${JSON.stringify(b.rest.toString('latin1').slice(0, 80))}`);
  t.is(c.body.toString(), 'ok');
});

test('wsgi.file_wrapper: served with Content-Length = file size, from the file position, capped by the app Content-Length', async (t) => {
  const f = `?file=${encodeURIComponent(dataFile)}`;
  const a = await get(`file${f}`);
  t.is(a.p.status, 200);
  t.is(a.p.contentLength, data.length);
  t.true(a.p.complete);
  t.true(a.p.body.equals(data));
  const b = await get(`file_seek${f}`);
  t.is(b.p.contentLength, data.length - 1000);
  t.true(b.p.body.equals(data.subarray(1000)));
  const c = await get(`file_cl${f}`);
  t.is(c.p.contentLength, 10);
  t.true(c.p.body.equals(data.subarray(0, 10)));
  const h = await get(`file${f}`, { method: 'HEAD' });
  t.is(h.p.status, 200);
  t.is(h.p.rest.length, 0, 'HEAD of a file: no body');
});

test('close() is called on the iterable: normal end, error mid-iteration, file wrapper', async (t) => {
  for (const mode of ['close_called', 'close_called_on_error']) {
    const marker = path.join(dir, `${mode}.marker`);
    await rawRequest(server.port, rawHead(server.port, 'GET', `/b/${mode}?marker=${encodeURIComponent(marker)}`));
    const seen = await poll(() => fs.existsSync(marker), 3000);
    t.true(seen, `${mode}: close() was called`);
  }
  const marker = path.join(dir, 'file.marker');
  const r = await request(`${server.url}/b/file_closed?marker=${encodeURIComponent(marker)}&file=${encodeURIComponent(dataFile)}`);
  t.is(r.status, 200);
  t.true(r.body.equals(data));
  t.true(await poll(() => fs.existsSync(marker), 3000));
  t.is(fs.readFileSync(marker, 'utf8'), 'file closed=True');
});

test('close() raising is logged; the response was already complete', async (t) => {
  const { p } = await get('close_raises');
  t.is(p.status, 200);
  t.is(p.body.toString(), 'body');
  t.true(p.complete);
  const rec = await logs.waitFor((r) => r.message.includes('close_raises: close() fails'), 3000);
  t.is(rec.level, 'error');
});

test('the worker survives errors: a good request after many bad ones', async (t) => {
  await Promise.all(['raise_before', 'item_str', 'status_abc', 'raise_mid_body'].map((m) => get(m)));
  const { p } = await get('ok');
  t.is(p.status, 200);
  t.is(p.body.toString(), 'ok');
});

// ---- Script files that fail to load ----

test('a script that fails to import: 500 on every request with the traceback logged; fixed file works', async (t) => {
  const file = path.join(dir, 'broken.wsgi');
  writeScript(file, 'import os\nraise ImportError("broken.wsgi cannot start: pyhost-broken-marker")\n');
  const s = await serve(engine.mount(file, { group: 'broken' }));
  t.teardown(() => s.close());
  for (let i = 0; i < 2; i++) {
    const before = logs.errors('broken').length;
    const r = await request(`${s.url}/`);
    t.is(r.status, 500, `request ${i + 1}`);
    t.false(r.text().includes('pyhost-broken-marker'), 'no error details in the response');
    const recs = await poll(() => (logs.errors('broken').length > before ? logs.errors('broken').slice(before) : undefined), 3000);
    const text = (recs ?? []).map((r) => r.message).join('\n');
    t.true(text.includes('pyhost-broken-marker'), `request ${i + 1}: the error is logged: ${text}`);
    t.true(text.includes('Traceback (most recent call last)') && text.includes(file), `request ${i + 1}: with the traceback: ${text}`);
  }
  writeScript(file, 'def application(environ, start_response):\n    start_response("200 OK", [("Content-Type", "text/plain")])\n    return [b"fixed"]\n', 5);
  const ok = await request(`${s.url}/`);
  t.is(ok.status, 200);
  t.is(ok.text(), 'fixed');
});

test('a script failing at import is imported again on the next request, as mod_wsgi does (no cached failure)', async (t) => {
  // The failure depends on something outside the script (here a flag file): mod_wsgi retries the
  // import on every request, so the application recovers without touching the script.
  const flag = path.join(dir, 'ready.flag');
  const file = path.join(dir, 'flaky.wsgi');
  writeScript(
    file,
    `import os\nif not os.path.exists(${JSON.stringify(flag)}):\n    raise RuntimeError("dependency not ready")\n\n` +
      'def application(environ, start_response):\n    start_response("200 OK", [("Content-Type", "text/plain")])\n    return [b"ready"]\n',
  );
  const s = await serve(engine.mount(file, { group: 'flaky' }));
  t.teardown(() => s.close());
  t.is((await request(`${s.url}/`)).status, 500);
  fs.writeFileSync(flag, '');
  const r = await request(`${s.url}/`);
  t.is(r.status, 200, 'the import was retried');
  t.is(r.text(), 'ready');
});

test('a script with a syntax error: 500 and the SyntaxError logged', async (t) => {
  const file = path.join(dir, 'syntax.wsgi');
  writeScript(file, 'def application(environ, start_response)\n    pass\n');
  const s = await serve(engine.mount(file, { group: 'syntax' }));
  t.teardown(() => s.close());
  const r = await request(`${s.url}/`);
  t.is(r.status, 500);
  const rec = await logs.waitFor((x) => x.group === 'syntax' && x.message.includes('SyntaxError'), 3000);
  t.is(rec.level, 'error');
  t.true(rec.message.includes(file));
});

test("missing application callable: 500 with mod_wsgi's message in the log", async (t) => {
  const file = path.join(dir, 'no_callable.wsgi');
  writeScript(file, 'def app(environ, start_response):\n    pass\n');
  const s = await serve(engine.mount(file, { group: 'nocallable' }));
  t.teardown(() => s.close());
  const r = await request(`${s.url}/`);
  t.is(r.status, 500);
  const rec = await logs.waitFor((x) => x.group === 'nocallable' && x.message.includes('does not contain WSGI application'), 3000);
  t.true(rec.message.includes(`Target WSGI script '${file}' does not contain WSGI application 'application'.`), rec.message);
  t.is(rec.level, 'error');
});

test('a script removed after mounting: 404, as mod_wsgi (script not found)', async (t) => {
  const file = path.join(dir, 'vanishing.wsgi');
  writeScript(file, 'def application(environ, start_response):\n    start_response("200 OK", [])\n    return [b"here"]\n');
  const s = await serve(engine.mount(file, { group: 'vanish' }));
  t.teardown(() => s.close());
  t.is((await request(`${s.url}/`)).status, 200);
  fs.rmSync(file);
  const r = await request(`${s.url}/`);
  // mod_wsgi stats the script on each request (WSGIScriptReloading On by default) and answers 404.
  t.is(r.status, 404);
});
