/**
 * Issue 8, "Done means" (2): two name-based virtual hosts on one port (`ServerName a.test` /
 * `b.test`, with ServerAlias), each with its own daemon process group and its own venv
 * (test/fixtures/config-serve/vhosts.conf), served by `pyhost start-server --config`. The Host
 * header picks the virtual host; an unknown Host goes to the first one. Group names as
 * docs/mod_wsgi-reference.md section 1 (g4) observed them: `<ServerName>[:port]|<mount>`, the
 * port being the Host header's (none: 80, and then no `:port`).
 */
import test from 'ava';
import path from 'node:path';
import {
  copyApps, freePort, getJson, makeVenv, startPyhost, template, worldTempDir, writeFile, type PyhostServer,
} from './helpers/config-serve.js';

let server: PyhostServer | undefined;
let port: number;
let venvA: string;
let venvB: string;
let setupError: Error | undefined;

test.before(async () => {
  try {
    const dir = worldTempDir('pyhost-vhosts-');
    const apps = copyApps(path.join(dir, 'apps'));
    [venvA, venvB] = await Promise.all([makeVenv(path.join(dir, 'venv-a')), makeVenv(path.join(dir, 'venv-b'))]);
    port = await freePort();
    const config = writeFile(dir, 'vhosts.conf', template('vhosts.conf', { PORT: port, APPS: apps, VENV_A: venvA, VENV_B: venvB }));
    server = await startPyhost({ config, ports: [port] });
  } catch (err) {
    setupError = err as Error;
  }
});

test.after.always(async () => {
  await server?.stop();
});

type Env = Record<string, string>;

async function ask(target: string, host: string): Promise<Env> {
  if (setupError) throw setupError;
  const { status, json } = await getJson<Env>(port, target, host);
  if (status !== 200) throw new Error(`GET ${target} Host ${host}: status ${status}`);
  return json;
}

const P = () => String(port);

test('Host: a.test reaches site-a, with venv a', async (t) => {
  const e = await ask('/x', `a.test:${P()}`);
  t.is(e['mod_wsgi.process_group'], 'site-a');
  t.is(e['sys.prefix'], venvA);
  t.is(e['mod_wsgi.application_group'], `a.test:${P()}|`);
  t.is(e.SERVER_NAME, 'a.test');
});

test('Host: b.test reaches site-b, with venv b', async (t) => {
  const e = await ask('/x', `b.test:${P()}`);
  t.is(e['mod_wsgi.process_group'], 'site-b');
  t.is(e['sys.prefix'], venvB);
  t.is(e['mod_wsgi.application_group'], `b.test:${P()}|`);
  t.is(e.SERVER_NAME, 'b.test');
});

test('the two groups are different processes with different venvs', async (t) => {
  const [a, b] = await Promise.all([ask('/', `a.test:${P()}`), ask('/', `b.test:${P()}`)]);
  t.not(a['sys.prefix'], b['sys.prefix']);
  t.not(a['mod_wsgi.process_group'], b['mod_wsgi.process_group']);
  t.true(server!.daemonPids().length >= 2, `one daemon process per group at least: ${server!.daemonPids().join(', ')}`);
});

test('ServerAlias names (exact, wildcard, any case) reach their virtual host; group names use the ServerName', async (t) => {
  const www = await ask('/x', `www.a.test:${P()}`);
  t.is(www['mod_wsgi.process_group'], 'site-a');
  t.is(www['mod_wsgi.application_group'], `a.test:${P()}|`, 'the ServerName, not the alias');
  t.is(www.SERVER_NAME, 'www.a.test');
  const wild = await ask('/x', `shop.a-alias.test:${P()}`);
  t.is(wild['mod_wsgi.process_group'], 'site-a');
  t.is(wild['sys.prefix'], venvA);
  const upper = await ask('/x', `WWW.B.Test:${P()}`);
  t.is(upper['mod_wsgi.process_group'], 'site-b');
  t.is(upper['mod_wsgi.application_group'], `b.test:${P()}|`);
});

test('an unknown Host (or the bare address) goes to the first virtual host', async (t) => {
  for (const host of [`unknown.test:${P()}`, `127.0.0.1:${P()}`]) {
    const e = await ask('/x', host);
    t.is(e['mod_wsgi.process_group'], 'site-a', host);
    t.is(e['sys.prefix'], venvA, host);
    t.is(e['mod_wsgi.application_group'], `a.test:${P()}|`, host);
  }
});

test("a mount of one virtual host is not the other's", async (t) => {
  const b = await ask('/b-only/x', `b.test:${P()}`);
  t.is(b.SCRIPT_NAME, '/b-only');
  t.is(b['mod_wsgi.application_group'], '', 'application-group=%{GLOBAL}');
  t.is(b['mod_wsgi.process_group'], 'site-b');
  const a = await ask('/b-only/x', `a.test:${P()}`);
  t.is(a.SCRIPT_NAME, '');
  t.is(a.PATH_INFO, '/b-only/x');
  t.is(a['mod_wsgi.process_group'], 'site-a');
});

test('a Host header without a port: port 80, so no :port in the group name (mod_wsgi g4: www.alpha.test -> alpha.test|)', async (t) => {
  const a = await ask('/x', 'a.test');
  t.is(a['mod_wsgi.process_group'], 'site-a');
  t.is(a.SERVER_PORT, '80');
  t.is(a['mod_wsgi.application_group'], 'a.test|');
  const b = await ask('/x', 'www.b.test');
  t.is(b['mod_wsgi.process_group'], 'site-b');
  t.is(b['mod_wsgi.application_group'], 'b.test|');
});

test('start-server logs the unimplemented daemon option as a warning naming file:line', (t) => {
  if (setupError) throw setupError;
  t.regex(server!.stderr(), /^\[pyhost:warn\].* \/\S+\/vhosts\.conf:17: .*listen-backlog=50.* not implemented/m);
});
