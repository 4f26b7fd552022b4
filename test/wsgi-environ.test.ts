/**
 * The WSGI environ pyhost builds (PEP 3333 CGI keys, HTTP_* headers, wsgi.*, mod_wsgi.* and
 * pyhost.* keys), checked against the values mod_wsgi 4.9 produces (docs/mod_wsgi-reference.md
 * sections 2 and 3), over raw sockets so every byte of the request is ours.
 */
import test from 'ava';
import type { Engine } from '../ts/index.js';
import { parseResponse, rawHead, rawRequest, request } from './helpers/http.js';
import { fixture, LogCapture, serve, serveMounts, startEngine, type TestServer } from './helpers/wsgi-server.js';

let engine: Engine;
let logs: LogCapture;
let server: TestServer; // /app (group 'env'), /auth (passAuthorization), /single (threads 1), /global
let rootServer: TestServer; // the same app mounted at /

const APP = fixture('environ_app.wsgi');

test.before(async () => {
  ({ engine, logs } = await startEngine());
  const app = engine.mount(APP, { mountPoint: '/app', group: 'env' });
  const auth = engine.mount(APP, { mountPoint: '/auth', group: 'env', passAuthorization: true });
  const single = engine.mount(APP, { mountPoint: '/single', group: 'single', groupOptions: { threads: 1 } });
  const global = engine.mount(APP, { mountPoint: '/global', group: '%{GLOBAL}' });
  server = await serveMounts([app, auth, single, global]);
  rootServer = await serve(engine.mount(APP, { group: 'env-root' }));
  // Load the script in each group before tests run concurrently.
  for (const p of ['/app', '/single', '/global']) {
    const r = await request(server.url + p);
    if (r.status !== 200) throw new Error(`warm-up ${p}: ${r.status}\n${logs.text()}`);
  }
  await request(rootServer.url + '/');
});

test.after.always(async () => {
  await server?.close();
  await rootServer?.close();
  await engine?.close();
});

type Environ = Record<string, any> & { __types__: Record<string, string> };

/** Sends a raw request and returns the environ the application saw. */
async function environ(port: number, rawRequestText: string | Buffer): Promise<Environ> {
  const res = await rawRequest(port, rawRequestText);
  const p = parseResponse(res.data, { closed: res.closed });
  if (p.status !== 200) throw new Error(`status ${p.status}: ${p.body.toString()}\n${logs.text()}`);
  return JSON.parse(p.body.toString('latin1'));
}

async function environFor(port: number, target: string, headers: [string, string][] = [], method = 'GET'): Promise<Environ> {
  return environ(port, rawHead(port, method, target, headers));
}

async function statusFor(port: number, target: string): Promise<number> {
  const res = await rawRequest(port, rawHead(port, 'GET', target));
  return parseResponse(res.data, { closed: res.closed }).status;
}

test('CGI keys of a plain GET', async (t) => {
  const e = await environFor(server.port, '/app/x/y?a=1&b=%20c');
  t.is(e.REQUEST_METHOD, 'GET');
  t.is(e.SCRIPT_NAME, '/app');
  t.is(e.PATH_INFO, '/x/y');
  t.is(e.QUERY_STRING, 'a=1&b=%20c', 'QUERY_STRING is raw (not decoded)');
  t.is(e.REQUEST_URI, '/app/x/y?a=1&b=%20c');
  t.is(e.SERVER_NAME, '127.0.0.1');
  t.is(e.SERVER_PORT, String(server.port));
  t.is(e.HTTP_HOST, `127.0.0.1:${server.port}`);
  t.is(e.SERVER_PROTOCOL, 'HTTP/1.1');
  t.is(e.REMOTE_ADDR, '127.0.0.1');
  t.regex(e.REMOTE_PORT, /^\d+$/);
  t.not(e.REMOTE_PORT, String(server.port));
  t.false('CONTENT_LENGTH' in e, 'no CONTENT_LENGTH for a GET without a body (as mod_wsgi)');
  t.false('CONTENT_TYPE' in e);
  // Every CGI value is a str (PEP 3333).
  for (const k of ['REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL', 'REMOTE_ADDR', 'REMOTE_PORT']) {
    t.is(e.__types__[k], 'str', k);
  }
});

test('REMOTE_PORT is the client socket port', async (t) => {
  const net = await import('node:net');
  const { local, env } = await new Promise<{ local: number; env: Environ }>((resolve, reject) => {
    const s = net.connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let local = 0;
    s.on('connect', () => {
      local = s.localPort!;
      s.write(rawHead(server.port, 'GET', '/app/'));
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve({ local, env: JSON.parse(parseResponse(Buffer.concat(chunks), { closed: true }).body.toString()) }));
  });
  t.is(env.REMOTE_PORT, String(local));
});

test('QUERY_STRING is always present; empty for no query and for a bare ?', async (t) => {
  const a = await environFor(server.port, '/app/x');
  t.is(a.QUERY_STRING, '');
  const b = await environFor(server.port, '/app/x?');
  t.is(b.QUERY_STRING, '');
  t.is(b.REQUEST_URI, '/app/x?');
  const c = await environFor(server.port, '/app/x?q=caf%C3%A9+x&&y=%2F');
  t.is(c.QUERY_STRING, 'q=caf%C3%A9+x&&y=%2F');
});

test('PATH_INFO is percent-decoded to bytes held as latin-1 (PEP 3333)', async (t) => {
  const a = await environFor(server.port, '/app/caf%C3%A9');
  t.is(a.PATH_INFO, '/caf\xc3\xa9');
  t.is(a.REQUEST_URI, '/app/caf%C3%A9');
  const b = await environFor(server.port, '/app/%E9');
  t.is(b.PATH_INFO, '/\xe9');
  const c = await environFor(server.port, '/app/a%20b/a+b');
  t.is(c.PATH_INFO, '/a b/a+b');
  const d = await environFor(server.port, '/app/x%3Fy');
  t.is(d.PATH_INFO, '/x?y');
  t.is(d.QUERY_STRING, '');
  const e = await environFor(server.port, '/app/x;p=1');
  t.is(e.PATH_INFO, '/x;p=1');
  // (A raw, unencoded UTF-8 request target is refused by Node's HTTP parser with 400 before
  // pyhost sees it; Apache accepts it. Not tested: that is Node's parser, not the gateway.)
});

test('paths are normalised as Apache does before the split', async (t) => {
  const a = await environFor(server.port, '/app//x');
  t.is(a.SCRIPT_NAME, '/app');
  t.is(a.PATH_INFO, '/x');
  t.is(a.REQUEST_URI, '/app//x');
  const b = await environFor(server.port, '/app/./x');
  t.is(b.PATH_INFO, '/x');
  const c = await environFor(server.port, '/app/x/../y');
  t.is(c.PATH_INFO, '/y');
  const d = await environFor(server.port, '/ap%70/x');
  t.is(d.SCRIPT_NAME, '/app', 'matched after decoding');
  t.is(d.PATH_INFO, '/x');
  const r = await environFor(rootServer.port, '//x');
  t.is(r.SCRIPT_NAME, '');
  t.is(r.PATH_INFO, '/x');
});

test('encoded slash and NUL are refused with 404 (AllowEncodedSlashes Off); ".." out of the mount is not served', async (t) => {
  t.is(await statusFor(server.port, '/app/a%2Fb'), 404);
  t.is(await statusFor(server.port, '/app/a%2fb'), 404);
  t.is(await statusFor(server.port, '/app/%00'), 404);
  t.is(await statusFor(server.port, '/app/..'), 404);
  t.is(await statusFor(server.port, '/app/%2e%2e/x'), 404);
});

test('CONTENT_TYPE and CONTENT_LENGTH come from the headers, never as HTTP_CONTENT_*', async (t) => {
  const raw =
    rawHead(server.port, 'POST', '/app/x?body=1', [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', '5'],
    ]) + 'hello';
  const e = await environ(server.port, raw);
  t.is(e.REQUEST_METHOD, 'POST');
  t.is(e.CONTENT_TYPE, 'text/plain; charset=utf-8');
  t.is(e.CONTENT_LENGTH, '5');
  t.is(e.__body__, 'hello');
  t.false('HTTP_CONTENT_TYPE' in e);
  t.false('HTTP_CONTENT_LENGTH' in e);
  const z = await environFor(server.port, '/app/x', [['Content-Length', '0']]);
  t.is(z.CONTENT_LENGTH, '0', 'an explicit Content-Length: 0 is passed on (as mod_wsgi)');
});

test('chunked request: no CONTENT_LENGTH, HTTP_TRANSFER_ENCODING, wsgi.input_terminated', async (t) => {
  const raw = rawHead(server.port, 'POST', '/app/x?body=1', [['Transfer-Encoding', 'chunked']]) + '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
  const e = await environ(server.port, raw);
  t.false('CONTENT_LENGTH' in e);
  t.is(e.HTTP_TRANSFER_ENCODING, 'chunked');
  t.is(e['wsgi.input_terminated'], true);
  t.is(e.__body__, 'hello world');
});

test('Host header sets SERVER_NAME and SERVER_PORT; HTTP/1.0 without Host falls back to the local address', async (t) => {
  const a = await environFor(server.port, '/app/', [['Host', 'example.com:8080']]);
  t.is(a.SERVER_NAME, 'example.com');
  t.is(a.SERVER_PORT, '8080');
  t.is(a.HTTP_HOST, 'example.com:8080');
  const b = await environ(server.port, 'GET /app/ HTTP/1.0\r\n\r\n');
  t.is(b.SERVER_PROTOCOL, 'HTTP/1.0');
  t.is(b.SERVER_NAME, '127.0.0.1');
  t.false('HTTP_HOST' in b);
});

test('request headers: duplicates joined with ", ", empty and padded values, latin-1 bytes', async (t) => {
  const raw = Buffer.from(
    rawHead(server.port, 'GET', '/app/h', [
      ['X-Foo', 'one'],
      ['X-Foo', 'two'],
      ['Cookie', 'a=1'],
      ['Cookie', 'b=2'],
      ['X-Empty', ''],
      ['X-Spaces', '   padded   '],
      ['X-Latin1', 'caf\xe9'],
      ['X-Utf8', 'caf\xc3\xa9'],
      ['x-lower-case', 'v'],
      ['Accept', 'text/html'],
    ]),
    'latin1',
  );
  const e = await environ(server.port, raw);
  t.is(e.HTTP_X_FOO, 'one, two');
  t.is(e.HTTP_COOKIE, 'a=1, b=2', 'Cookie lines are joined with ", " as mod_wsgi does');
  t.is(e.HTTP_X_EMPTY, '');
  t.is(e.HTTP_X_SPACES, 'padded');
  t.is(e.HTTP_X_LATIN1, 'caf\xe9');
  t.is(e.HTTP_X_UTF8, 'caf\xc3\xa9');
  t.is(e.HTTP_X_LOWER_CASE, 'v');
  t.is(e.HTTP_ACCEPT, 'text/html');
});

test('header names containing "_" are dropped; Proxy is dropped', async (t) => {
  const e = await environFor(server.port, '/app/h', [
    ['X_Foo', 'underscore'],
    ['X-Mixed_Name', 'mixed'],
    ['X-Foo', 'dash'],
    ['Proxy', 'http://evil.example'],
  ]);
  t.is(e.HTTP_X_FOO, 'dash', 'X_Foo must not alias (or join) X-Foo');
  t.false('HTTP_X_MIXED_NAME' in e);
  t.false('HTTP_PROXY' in e);
  const underscoreOnly = await environFor(server.port, '/app/h', [['X_Only', 'u']]);
  t.false('HTTP_X_ONLY' in underscoreOnly);
});

test('Authorization is dropped by default and passed with passAuthorization', async (t) => {
  const hdr: [string, string][] = [['Authorization', 'Basic dXNlcjpwYXNz']];
  const a = await environFor(server.port, '/app/x', hdr);
  t.false('HTTP_AUTHORIZATION' in a);
  const b = await environFor(server.port, '/auth/x', hdr);
  t.is(b.HTTP_AUTHORIZATION, 'Basic dXNlcjpwYXNz');
  t.is(b.SCRIPT_NAME, '/auth');
  const c = await environFor(server.port, '/auth/x', [['Authorization', 'Bearer abc.def']]);
  t.is(c.HTTP_AUTHORIZATION, 'Bearer abc.def');
});

test('wsgi.* keys', async (t) => {
  const e = await environFor(server.port, '/app/x');
  t.deepEqual(e['wsgi.version'], [1, 0]);
  t.is(e.__types__['wsgi.version'], 'tuple');
  t.is(e['wsgi.url_scheme'], 'http');
  t.is(e['wsgi.multithread'], true);
  t.is(e['wsgi.multiprocess'], false, 'one process serves the group (embedded in Node)');
  t.is(e['wsgi.run_once'], false);
  t.is(e['wsgi.input_terminated'], true);
  for (const k of ['wsgi.input', 'wsgi.errors', 'wsgi.file_wrapper']) t.true(k in e, k);
  t.not(e['wsgi.errors'], null, 'wsgi.errors is a stream');
});

test('wsgi.errors is a stream whose lines reach the log, tagged with the group', async (t) => {
  const e = await environFor(server.port, '/app/x?errors=environ-test-marker-42');
  t.regex(e['wsgi.errors'], /^<.+>$/);
  const rec = await logs.waitFor((r) => r.message.includes('environ-test-marker-42'), 3000);
  t.is(rec.group, 'env');
});

test('a group with one worker thread reports wsgi.multithread False (as mod_wsgi threads=1)', async (t) => {
  const e = await environFor(server.port, '/single/x');
  t.is(e['wsgi.multithread'], false);
});

test('mod_wsgi.* and pyhost.* group keys', async (t) => {
  const e = await environFor(server.port, '/app/x');
  t.is(e['mod_wsgi.process_group'], '');
  t.is(e['mod_wsgi.application_group'], 'env');
  t.is(e['pyhost.process_group'], '');
  t.is(e['pyhost.application_group'], 'env');
  const g = await environFor(server.port, '/global/x');
  t.is(g['mod_wsgi.application_group'], '', '%{GLOBAL} is reported as the empty string');
  t.is(g['pyhost.application_group'], '');
  t.is(g.SCRIPT_NAME, '/global');
});

test('root mount: SCRIPT_NAME empty, PATH_INFO the whole path', async (t) => {
  const a = await environFor(rootServer.port, '/');
  t.is(a.SCRIPT_NAME, '');
  t.is(a.PATH_INFO, '/');
  const b = await environFor(rootServer.port, '/x/y');
  t.is(b.SCRIPT_NAME, '');
  t.is(b.PATH_INFO, '/x/y');
  t.is(b['mod_wsgi.application_group'], 'env-root');
});

test('the same request twice gives independent environs (no leak between requests)', async (t) => {
  const a = await environFor(server.port, '/app/one', [['X-Only-First', '1']]);
  const b = await environFor(server.port, '/app/two');
  t.is(a.HTTP_X_ONLY_FIRST, '1');
  t.false('HTTP_X_ONLY_FIRST' in b);
  t.is(b.PATH_INFO, '/two');
});
