/**
 * A real Flask application (Debian's python3-flask 2.2 on /usr/bin/python3.11) mounted at /py in
 * its own sub-interpreter: pages, urlencoded and multipart forms, a JSON API, a redirect, 404 and
 * an application error.
 */
import test from 'ava';
import crypto from 'node:crypto';
import type { Engine, MountHandler } from '../ts/index.js';
import { request } from './helpers/http.js';
import { DEBIAN_PYTHON, fixture, LogCapture, serve, startEngine, type TestServer } from './helpers/wsgi-server.js';

let engine: Engine;
let logs: LogCapture;
let server: TestServer;
let handler: MountHandler;

test.before(async () => {
  ({ engine, logs } = await startEngine({ python: DEBIAN_PYTHON }));
  handler = engine.mount(fixture('flask_app.wsgi'), { mountPoint: '/py', group: 'flask', preload: true });
  server = await serve(handler);
});

test.after.always(async () => {
  await server?.close();
  await engine?.close();
});

test.serial('the application is preloaded in the Debian Python', async (t) => {
  t.regex(engine.pythonVersion, /^3\.11\./);
  await t.notThrowsAsync(handler.ready);
  t.true(logs.errors('flask').length === 0, logs.text('flask'));
});

test('pages: HTML with url_for links under SCRIPT_NAME', async (t) => {
  const r = await request(`${server.url}/py/`);
  t.is(r.status, 200, r.text());
  t.regex(String(r.headers['content-type']), /^text\/html/);
  const html = r.text();
  t.true(html.includes('<h1>Home</h1>'));
  t.true(html.includes('SCRIPT_NAME=/py path=/'), html);
  t.true(html.includes('href="/py/about"'), 'url_for includes the mount point');
  const about = await request(`${server.url}/py/about`);
  t.is(about.status, 200);
  t.true(about.text().includes('<h1>About pyhost &amp; Flask</h1>'), 'Jinja autoescaping ran');
});

test('form POST, urlencoded, with a repeated field and UTF-8', async (t) => {
  const body = new URLSearchParams([
    ['name', 'Zoë & co'],
    ['color', 'red'],
    ['color', 'blue'],
  ]).toString();
  const r = await request(`${server.url}/py/form`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  t.is(r.status, 200, r.text());
  t.is(r.text(), 'hello Zoë & co; colors=red,blue');
});

test('multipart file upload (3 MB) with a text field', async (t) => {
  const data = crypto.randomBytes(3 * 1024 * 1024 + 17);
  const form = new FormData();
  form.append('note', 'a note');
  form.append('file', new Blob([data], { type: 'application/x-test' }), 'random.bin');
  const r = await fetch(`${server.url}/py/upload`, { method: 'POST', body: form });
  t.is(r.status, 200);
  t.deepEqual(await r.json(), {
    filename: 'random.bin',
    content_type: 'application/x-test',
    size: data.length,
    sha256: crypto.createHash('sha256').update(data).digest('hex'),
    note: 'a note',
  });
});

test.serial('JSON API: create, list, fetch, 404 as JSON', async (t) => {
  const created = await request(`${server.url}/py/api/items`, {
    method: 'POST',
    body: JSON.stringify({ name: 'first' }),
    headers: { 'Content-Type': 'application/json' },
  });
  t.is(created.status, 201);
  t.deepEqual(created.json(), { id: 1, name: 'first' });
  await request(`${server.url}/py/api/items`, { method: 'POST', body: '{"name": "second"}', headers: { 'Content-Type': 'application/json' } });
  const list = await request(`${server.url}/py/api/items`);
  t.is(list.status, 200);
  t.regex(String(list.headers['content-type']), /^application\/json/);
  t.deepEqual(list.json(), { items: [{ id: 1, name: 'first' }, { id: 2, name: 'second' }] });
  const one = await request(`${server.url}/py/api/items/2`);
  t.deepEqual(one.json(), { id: 2, name: 'second' });
  const missing = await request(`${server.url}/py/api/items/99`);
  t.is(missing.status, 404);
  t.deepEqual(missing.json(), { error: 'no item 99' });
});

test('redirect: 302 to the URL under the mount point', async (t) => {
  const r = await request(`${server.url}/py/old-about`);
  t.is(r.status, 302);
  t.is(r.headers.location, '/py/about');
});

test("unknown URL: Flask's 404 page", async (t) => {
  const r = await request(`${server.url}/py/no/such/page`);
  t.is(r.status, 404);
  t.true(r.text().includes('Not Found'));
  const outside = await request(`${server.url}/elsewhere`);
  t.is(outside.status, 404, 'outside the mount point');
});

test('an exception in a view: Flask answers 500 and logs the traceback through pyhost', async (t) => {
  const r = await request(`${server.url}/py/boom`);
  t.is(r.status, 500);
  t.false(r.text().includes('pyhost-flask-boom'));
  const rec = await logs.waitFor((x) => x.group === 'flask' && x.message.includes('pyhost-flask-boom'), 3000);
  t.truthy(rec);
});

test('concurrent requests are served correctly', async (t) => {
  const rs = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      request(`${server.url}/py/form`, { method: 'POST', body: `name=n${i}`, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }),
    ),
  );
  t.deepEqual(
    rs.map((r) => r.text()),
    Array.from({ length: 20 }, (_, i) => `hello n${i}; colors=`),
  );
});
