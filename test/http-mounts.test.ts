/**
 * Mounts: SCRIPT_NAME/PATH_INFO splits (as WSGIScriptAlias), application group names (as
 * mod_wsgi), module state per group, Express and Fastify, and the callable / entryPoint /
 * reload / preload options. Expected values follow docs/mod_wsgi-reference.md section 1-2.
 */
import test from 'ava';
// @ts-ignore -- express ships no types and @types/express is not installed
import express from 'express';
import Fastify from 'fastify';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Engine, MountHandler } from '../ts/index.js';
import { parseResponse, rawHead, rawRequest, request } from './helpers/http.js';
import { nativeUnsupported } from '../ts/front/native-front.js';
import { fixture, LogCapture, poll, resourceGroup, serve, serveMounts as serveMountsOnFront, startEngine, tempDir, TEST_FRONT, writeDataFile, writeScript, type TestServer } from './helpers/wsgi-server.js';

let engine: Engine;
let logs: LogCapture;

test.before(async () => {
  process.env.PYHOST_TEST_GROUP = 'from-env';
  delete process.env.PYHOST_TEST_UNSET_GROUP;
  ({ engine, logs } = await startEngine({ pythonPath: [fixture('lib')] }));
});

const servers: TestServer[] = [];
test.after.always(async () => {
  for (const s of servers) await s.close();
  await engine?.close();
});

async function serveTracked(listener: http.RequestListener): Promise<TestServer> {
  const s = await serve(listener);
  servers.push(s);
  return s;
}

/** Serves mounts, each tried in turn by URL prefix (the longest first). */
async function serveMounts(mounts: Record<string, MountHandler>): Promise<TestServer> {
  if (TEST_FRONT === 'native' && Object.values(mounts).every((m) => !nativeUnsupported(m))) {
    const s = await serveMountsOnFront(Object.values(mounts));
    servers.push(s);
    return s;
  }
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  return serveTracked((req, res) => {
    const url = req.url ?? '/';
    const p = prefixes.find((x) => url.startsWith(x)) ?? prefixes[prefixes.length - 1];
    mounts[p](req, res);
  });
}

async function getEnviron(url: string, headers?: Record<string, string>): Promise<Record<string, any>> {
  const r = await request(url, { headers });
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.text()}\n${logs.text()}`);
  return r.json();
}

const ENV_APP = fixture('environ_app.wsgi');

test('mountPoint /app serves /app, /app/ and /app/x/y; /appx and /APP/x are 404', async (t) => {
  const s = await serveMounts({ '/': engine.mount(ENV_APP, { mountPoint: '/app', group: 'split' }) });
  const a = await getEnviron(`${s.url}/app`);
  t.is(a.SCRIPT_NAME, '/app');
  t.is(a.PATH_INFO, '');
  const b = await getEnviron(`${s.url}/app/`);
  t.is(b.SCRIPT_NAME, '/app');
  t.is(b.PATH_INFO, '/');
  const c = await getEnviron(`${s.url}/app/x/y/`);
  t.is(c.SCRIPT_NAME, '/app');
  t.is(c.PATH_INFO, '/x/y/');
  t.is((await request(`${s.url}/appx`)).status, 404);
  t.is((await request(`${s.url}/APP/x`)).status, 404);
  t.is((await request(`${s.url}/`)).status, 404);
  // A mount point given with a trailing slash is canonicalised to the same split.
  const s2 = await serveMounts({ '/': engine.mount(ENV_APP, { mountPoint: '/app/', group: 'split' }) });
  const d = await getEnviron(`${s2.url}/app/x`);
  t.is(d.SCRIPT_NAME, '/app');
  t.is(d.PATH_INFO, '/x');
});

test('root mount serves every path with an empty SCRIPT_NAME', async (t) => {
  const s = await serveMounts({ '/': engine.mount(ENV_APP, { group: 'split-root' }) });
  for (const p of ['/', '/x', '/app/x/y']) {
    const e = await getEnviron(s.url + p);
    t.is(e.SCRIPT_NAME, '', p);
    t.is(e.PATH_INFO, p, p);
  }
});

test('default group %{RESOURCE} is named host:port|mount and reported in environ', async (t) => {
  const h = engine.mount(ENV_APP, { mountPoint: '/res' });
  const s = await serveMounts({ '/': h });
  const e = await getEnviron(`${s.url}/res/x`);
  const name = resourceGroup(s.port, '/res');
  t.is(e['mod_wsgi.application_group'], name);
  t.is(e['pyhost.application_group'], name);
  t.is(e['mod_wsgi.process_group'], '');
  t.true(engine.listGroups().some((g) => g.name === name), `engine has group ${name}`);
  // Root mount: the name ends in '|'.
  const r = await serveMounts({ '/': engine.mount(ENV_APP) });
  const re = await getEnviron(`${r.url}/x`);
  t.is(re['mod_wsgi.application_group'], `127.0.0.1:${r.port}|`);
});

test('%{RESOURCE} lower-cases the mount in the group name, as mod_wsgi does (/Mixed -> |/mixed)', async (t) => {
  const s = await serveMounts({ '/': engine.mount(ENV_APP, { mountPoint: '/Mixed' }) });
  const e = await getEnviron(`${s.url}/Mixed/x`);
  t.is(e.SCRIPT_NAME, '/Mixed');
  t.is(e['mod_wsgi.application_group'], `127.0.0.1:${s.port}|/mixed`);
});

test('%{RESOURCE}: the port is left out for 80 and 443 (from the Host header port)', async (t) => {
  const s = await serveMounts({ '/': engine.mount(ENV_APP, { mountPoint: '/p80' }) });
  const e = await getEnviron(`${s.url}/p80/x`, { Host: '127.0.0.1:80' });
  t.is(e.SERVER_PORT, '80');
  t.is(e['mod_wsgi.application_group'], '127.0.0.1|/p80');
});

test('client-chosen Host names do not create new interpreters (mod_wsgi takes the host part from ServerName)', async (t) => {
  // mod_wsgi names a %{RESOURCE} group `<ServerName>[:<port>]|<mount>`: the host part comes from
  // the server's configuration, not from the Host header, so `Host: a.example` and
  // `Host: b.example` (no port: 80) both land in `127.0.0.1|/hosts` (reference section 1).
  const s = await serveMounts({ '/': engine.mount(ENV_APP, { mountPoint: '/hosts' }) });
  await getEnviron(`${s.url}/hosts/x`);
  // Other tests of this file run concurrently and create groups: count this mount's only.
  const hostsGroups = () => engine.listGroups().filter((g) => g.name.endsWith('|/hosts')).length;
  const before = hostsGroups();
  const names = new Set<string>();
  for (const host of ['a.example', 'b.example', 'c.example', 'd.example']) {
    const e = await getEnviron(`${s.url}/hosts/x`, { Host: host });
    t.is(e.SERVER_NAME, host, 'SERVER_NAME still follows the Host header');
    names.add(e['mod_wsgi.application_group']);
  }
  t.is(names.size, 1, `one group for every Host name, got: ${[...names].join(', ')}`);
  t.true(hostsGroups() <= before + 1, `interpreters created from Host headers: ${hostsGroups() - before}`);
});

test('%{GLOBAL} is reported as the empty string; %{SERVER} as host:port; a literal name as itself', async (t) => {
  const s = await serveMounts({
    '/glob': engine.mount(ENV_APP, { mountPoint: '/glob', group: '%{GLOBAL}' }),
    '/srv': engine.mount(ENV_APP, { mountPoint: '/srv', group: '%{SERVER}' }),
    '/lit': engine.mount(ENV_APP, { mountPoint: '/lit', group: 'my-literal-group' }),
  });
  t.is((await getEnviron(`${s.url}/glob/x`))['mod_wsgi.application_group'], '');
  t.is((await getEnviron(`${s.url}/srv/x`))['mod_wsgi.application_group'], `127.0.0.1:${s.port}`);
  t.is((await getEnviron(`${s.url}/lit/x`))['mod_wsgi.application_group'], 'my-literal-group');
});

test('%{ENV:NAME} takes the group name from the variable; unset, mod_wsgi keeps the literal', async (t) => {
  const s = await serveMounts({
    '/envset': engine.mount(ENV_APP, { mountPoint: '/envset', group: '%{ENV:PYHOST_TEST_GROUP}' }),
    '/envunset': engine.mount(ENV_APP, { mountPoint: '/envunset', group: '%{ENV:PYHOST_TEST_UNSET_GROUP}' }),
  });
  t.is((await getEnviron(`${s.url}/envset/x`))['mod_wsgi.application_group'], 'from-env');
  t.is((await getEnviron(`${s.url}/envunset/x`))['mod_wsgi.application_group'], '%{ENV:PYHOST_TEST_UNSET_GROUP}');
});

test.serial('module state: separate per group, shared within a group', async (t) => {
  const COUNTER = fixture('counter.wsgi');
  const s = await serveMounts({
    '/ca': engine.mount(COUNTER, { mountPoint: '/ca', group: 'count-a' }),
    '/cb': engine.mount(COUNTER, { mountPoint: '/cb', group: 'count-b' }),
    '/cs1': engine.mount(COUNTER, { mountPoint: '/cs1', group: 'count-shared' }),
    '/cs2': engine.mount(COUNTER, { mountPoint: '/cs2', group: 'count-shared' }),
    '/cs3': engine.mount(fixture('counter_other.wsgi'), { mountPoint: '/cs3', group: 'count-shared' }),
    '/r1': engine.mount(COUNTER, { mountPoint: '/r1' }),
    '/r2': engine.mount(COUNTER, { mountPoint: '/r2' }),
  });
  const hit = async (p: string) => (await getEnviron(s.url + p)) as { hits: number; shared: number; group: string; modules_id: number };

  // Different groups: each has its own module (and its own sys.modules).
  const a1 = await hit('/ca');
  const a2 = await hit('/ca');
  const b1 = await hit('/cb');
  t.deepEqual([a1.hits, a2.hits, b1.hits], [1, 2, 1]);
  t.deepEqual([a1.shared, a2.shared, b1.shared], [1, 2, 1]);
  t.not(a1.modules_id, b1.modules_id, 'different interpreters');
  t.is(a1.group, 'count-a');
  t.is(b1.group, 'count-b');

  // Same group, same script: one module.
  const s1 = await hit('/cs1');
  const s2 = await hit('/cs2');
  const s3 = await hit('/cs1');
  t.deepEqual([s1.hits, s2.hits, s3.hits], [1, 2, 3]);
  // Same group, another script: its own module globals, but the imported module is shared.
  const o1 = await hit('/cs3');
  t.is(o1.hits, 1);
  t.is(o1.shared, 4);
  t.is(o1.modules_id, s1.modules_id);

  // The default %{RESOURCE} groups of two mount points are separate (as mod_wsgi).
  const r1 = await hit('/r1');
  const r2 = await hit('/r2');
  const r1b = await hit('/r1');
  t.deepEqual([r1.hits, r2.hits, r1b.hits], [1, 1, 2]);
  t.is(r1.group, resourceGroup(s.port, '/r1'));
  t.is(r2.group, resourceGroup(s.port, '/r2'));
});

test('concurrent first requests while the script is still loading are all served', async (t) => {
  const s = await serveMounts({ '/': engine.mount(fixture('slow_import.wsgi'), { mountPoint: '/slow', group: 'slow-load' }) });
  const rs = await Promise.all(Array.from({ length: 6 }, () => request(`${s.url}/slow/`)));
  t.deepEqual(
    rs.map((r) => r.status),
    [200, 200, 200, 200, 200, 200],
    `bodies: ${rs.map((r) => JSON.stringify(r.text())).join(' ')}; log: ${logs.text('slow-load')}`,
  );
  t.true(rs.every((r) => r.text() === 'loaded'));
  // The script was imported once, not once per thread (mod_wsgi serialises script loading).
  t.is(logs.forGroup('slow-load').filter((r) => r.message.includes('slow_import.wsgi imported')).length, 1);
});

test('Express: app.use(path, handler) sets SCRIPT_NAME from baseUrl; other routes still work', async (t) => {
  const app = express();
  app.get('/hello', (_req: http.IncomingMessage, res: { send(body: string): void }) => {
    res.send('express route');
  });
  app.use('/py', engine.mount(ENV_APP, { group: 'express' }));
  app.use('/sub', engine.mount(ENV_APP, { mountPoint: '/inner', group: 'express' }));
  app.use((_req: http.IncomingMessage, res: { status(code: number): { send(body: string): void } }) => {
    res.status(418).send('express fallthrough');
  });
  const s = await serveTracked(app);
  const e = await getEnviron(`${s.url}/py/x/y?q=1`);
  t.is(e.SCRIPT_NAME, '/py');
  t.is(e.PATH_INFO, '/x/y');
  t.is(e.QUERY_STRING, 'q=1');
  t.is(e.REQUEST_URI, '/py/x/y?q=1');
  const r = await request(`${s.url}/hello`);
  t.is(r.status, 200);
  t.is(r.text(), 'express route');
  // A mount point inside the Express path; outside it the request goes on to the next handler.
  const inner = await getEnviron(`${s.url}/sub/inner/z`);
  t.is(inner.SCRIPT_NAME, '/sub/inner');
  t.is(inner.PATH_INFO, '/z');
  const miss = await request(`${s.url}/sub/other`);
  t.is(miss.status, 418);
  t.is(miss.text(), 'express fallthrough');
  // POST bodies stream through Express untouched.
  const post = await request(`${s.url}/py/form?body=1`, { method: 'POST', body: 'a=1&b=2', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  t.is(post.status, 200);
  t.is(post.json().__body__, 'a=1&b=2');
});

test('Fastify: a catch-all route hijacking the reply serves the application, bodies included', async (t) => {
  const fastify = Fastify();
  const handler = engine.mount(ENV_APP, { mountPoint: '/py', group: 'fastify' });
  // Leave request bodies unread for the WSGI application.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_req, _payload, done) => done(null));
  fastify.get('/native', async () => ({ from: 'fastify' }));
  fastify.all('/py', (request, reply) => {
    reply.hijack();
    handler(request.raw, reply.raw);
  });
  fastify.all('/py/*', (request, reply) => {
    reply.hijack();
    handler(request.raw, reply.raw);
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => fastify.close());
  const port = (fastify.server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const e = await getEnviron(`${url}/py/a/b?x=1`);
  t.is(e.SCRIPT_NAME, '/py');
  t.is(e.PATH_INFO, '/a/b');
  t.is(e.QUERY_STRING, 'x=1');
  const root = await getEnviron(`${url}/py`);
  t.is(root.PATH_INFO, '');
  const native = await request(`${url}/native`);
  t.deepEqual(native.json(), { from: 'fastify' });
  const post = await request(`${url}/py/up?body=1`, { method: 'POST', body: '{"k": "v"}', headers: { 'Content-Type': 'application/json' } });
  t.is(post.status, 200, post.text());
  t.is(post.json().__body__, '{"k": "v"}');
  t.is(post.json().CONTENT_TYPE, 'application/json');
});

test('callable option picks another callable; a missing one is a 500 with the mod_wsgi message', async (t) => {
  const s = await serveMounts({
    '/default': engine.mount(fixture('callables.wsgi'), { mountPoint: '/default', group: 'callables' }),
    '/other': engine.mount(fixture('callables.wsgi'), { mountPoint: '/other', group: 'callables', callable: 'other' }),
    '/missing': engine.mount(fixture('callables.wsgi'), { mountPoint: '/missing', group: 'callables', callable: 'missing_name' }),
  });
  t.is((await request(`${s.url}/default`)).text(), 'default application');
  t.is((await request(`${s.url}/other`)).text(), 'other callable');
  const m = await request(`${s.url}/missing`);
  t.is(m.status, 500);
  const rec = await logs.waitFor((r) => r.message.includes("does not contain WSGI application 'missing_name'"), 3000);
  t.is(rec.level, 'error');
  t.true(rec.message.includes(`Target WSGI script '${fixture('callables.wsgi')}'`), rec.message);
});

test('entryPoint pkg.module:callable imports the application (no script file)', async (t) => {
  const s = await serveMounts({
    '/ep': engine.mount(null, { mountPoint: '/ep', entryPoint: 'pyhost_test_pkg.wsgi:app', group: 'entry' }),
    '/epdef': engine.mount(null, { mountPoint: '/epdef', entryPoint: 'pyhost_test_pkg.wsgi', group: 'entry' }),
    '/epbad': engine.mount(null, { mountPoint: '/epbad', entryPoint: 'pyhost_test_pkg.wsgi:nope', group: 'entry' }),
  });
  const r = await request(`${s.url}/ep/x`);
  t.is(r.status, 200, r.text());
  t.is(r.text(), 'entry point app, __name__=pyhost_test_pkg.wsgi, PATH_INFO=/x');
  const d = await request(`${s.url}/epdef`);
  t.is(d.text(), 'default callable of the entry point module');
  const bad = await request(`${s.url}/epbad`);
  t.is(bad.status, 500);
  t.true(logs.errors('entry').some((r) => r.message.includes('nope')), logs.text('entry'));
  t.throws(() => engine.mount(null, { entryPoint: 'not a module!' }), { message: /entryPoint/ });
  t.throws(() => engine.mount(fixture('callables.wsgi'), { entryPoint: 'pyhost_test_pkg.wsgi:app' }), { message: /not both/ });
});

test('reload: an edited script (newer mtime) is used by the next request; without reload it is not', async (t) => {
  const dir = tempDir();
  const make = (v: string) =>
    `def application(environ, start_response):\n    body = b"${v}"\n    start_response("200 OK", [("Content-Type", "text/plain")])\n    return [body]\n`;
  const live = path.join(dir, 'live.wsgi');
  const fixed = path.join(dir, 'fixed.wsgi');
  writeScript(live, make('version 1'));
  writeScript(fixed, make('fixed 1'));
  const s = await serveMounts({
    '/live': engine.mount(live, { mountPoint: '/live', group: 'reload', reload: true }),
    '/fixed': engine.mount(fixed, { mountPoint: '/fixed', group: 'reload' }),
  });
  t.is((await request(`${s.url}/live`)).text(), 'version 1');
  t.is((await request(`${s.url}/fixed`)).text(), 'fixed 1');
  writeScript(live, make('version 2'), 5);
  writeScript(fixed, make('fixed 2'), 5);
  t.is((await request(`${s.url}/live`)).text(), 'version 2');
  t.is((await request(`${s.url}/fixed`)).text(), 'fixed 1', 'without reload the loaded script stays');
  // Same mtime, new content: not reloaded (the check is the modification time).
  const mtime = fs.statSync(live).mtime;
  fs.writeFileSync(live, make('version 3'));
  fs.utimesSync(live, mtime, mtime);
  t.is((await request(`${s.url}/live`)).text(), 'version 2');
});

test('preload: the script is imported before any request and ready resolves', async (t) => {
  const h = engine.mount(fixture('preload.wsgi'), { mountPoint: '/pre', group: 'preload', preload: true });
  await h.ready;
  const rec = await logs.waitFor((r) => r.message.includes('preload.wsgi imported, count=1'), 3000);
  t.is(rec.group, 'preload');
  const s = await serveMounts({ '/': h });
  const r = await request(`${s.url}/pre`);
  t.is(r.text(), 'imports=1', 'the request used the preloaded module');
  // Without preload nothing is imported until a request comes.
  const lazy = engine.mount(fixture('preload.wsgi'), { mountPoint: '/lazy', group: 'preload-lazy' });
  await lazy.ready;
  await new Promise((r) => setTimeout(r, 200));
  t.false(logs.forGroup('preload-lazy').some((r) => r.message.includes('preload.wsgi imported')));
});

test('preload: an import error rejects ready with the Python error', async (t) => {
  const dir = tempDir();
  const bad = path.join(dir, 'bad_preload.wsgi');
  writeScript(bad, 'import no_such_module_for_pyhost_preload\n\ndef application(e, s):\n    pass\n');
  const h = engine.mount(bad, { group: 'preload-bad', preload: true });
  const err = await t.throwsAsync(h.ready);
  t.regex(String(err?.message), /no_such_module_for_pyhost_preload/);
  t.regex(String((err as { type?: string })?.type ?? err?.name), /ModuleNotFoundError|PythonError/);
  // Requests still answer 500 (and log) rather than hang.
  const s = await serveMounts({ '/': h });
  const r = await request(`${s.url}/`);
  t.is(r.status, 500);
});

test('preload needs a fixed group', (t) => {
  const h = engine.mount(fixture('preload.wsgi'), { mountPoint: '/pre-res', preload: true });
  return t.throwsAsync(h.ready, { message: /fixed group/ });
});

test('accessLog: one Apache combined-format line per request, with status and body bytes', async (t) => {
  const lines: string[] = [];
  const h = engine.mount(fixture('behave.wsgi'), {
    mountPoint: '/al',
    group: 'access-log',
    limitRequestBody: 10,
    accessLog: (line) => lines.push(line),
  });
  const s = await serveMounts({ '/': h });
  const headers = { 'User-Agent': 'pyhost-test-agent', Referer: 'http://ref.example/' };
  const dataFile = path.join(tempDir(), 'data.bin');
  writeDataFile(dataFile, 200_003);
  await request(`${s.url}/al/ok?y=1`, { headers });
  await request(`${s.url}/al/file?file=${encodeURIComponent(dataFile)}`, { headers });
  await request(`${s.url}/al/raise_before`, { headers });
  await request(`${s.url}/al/ok`, { method: 'POST', body: 'more than ten bytes', headers });
  await rawRequest(s.port, rawHead(s.port, 'HEAD', '/al/head', [['User-Agent', 'raw "quoted" agent']]));
  await poll(() => lines.length >= 5, 3000);
  const date = String.raw`\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]`;
  const expected = [
    String.raw`^127\.0\.0\.1 - - ${date} "GET /al/ok\?y=1 HTTP/1\.1" 200 2 "http://ref\.example/" "pyhost-test-agent"$`,
    String.raw`^127\.0\.0\.1 - - ${date} "GET /al/file\?file=\S+ HTTP/1\.1" 200 200003 "http://ref\.example/" "pyhost-test-agent"$`,
    String.raw`^127\.0\.0\.1 - - ${date} "GET /al/raise_before HTTP/1\.1" 500 \d+ "http://ref\.example/" "pyhost-test-agent"$`,
    String.raw`^127\.0\.0\.1 - - ${date} "POST /al/ok HTTP/1\.1" 413 (-|\d+) "http://ref\.example/" "pyhost-test-agent"$`,
    String.raw`^127\.0\.0\.1 - - ${date} "HEAD /al/head HTTP/1\.1" 200 - "-" "raw \\"quoted\\" agent"$`,
  ];
  t.is(lines.length, 5, lines.join('\n'));
  for (const re of expected) t.true(lines.some((l) => new RegExp(re).test(l)), `no line matches ${re}:\n${lines.join('\n')}`);
});

test('mount options are validated', (t) => {
  t.throws(() => engine.mount(fixture('does-not-exist.wsgi')), { message: /does not exist/ });
  t.throws(() => engine.mount(ENV_APP, { group: '%{BOGUS}' }), { message: /group/ });
  t.throws(() => engine.mount(ENV_APP, { reload: 'yes' as unknown as boolean }), { message: /reload/ });
  t.throws(() => engine.mount(ENV_APP, { mountpoint: '/x' } as never), { message: /unknown option 'mountpoint'/ });
});

test('a request to a mount answers in the raw protocol correctly (status line, headers)', async (t) => {
  const s = await serveMounts({ '/': engine.mount(fixture('callables.wsgi'), { group: 'callables-raw' }) });
  const res = await rawRequest(s.port, rawHead(s.port, 'GET', '/'));
  const p = parseResponse(res.data, { closed: res.closed });
  t.is(p.httpVersion, 'HTTP/1.1');
  t.is(p.status, 200);
  t.is(p.reason, 'OK');
  t.is(p.header('content-type'), 'text/plain');
  t.is(p.body.toString(), 'default application');
  t.true(p.complete);
});
