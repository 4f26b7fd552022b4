/**
 * Issue 8, "Done means" (3): mounts with `application-group=` and the default `%{RESOURCE}`,
 * `%{GLOBAL}`, `%{SERVER}` (and `<Location>` WSGIApplicationGroup / WSGIProcessGroup), embedded
 * and in a daemon group, served through the API (`loadConfig`, `Site.start`, `site.listeners`):
 * `mod_wsgi.application_group` and `mod_wsgi.process_group` as mod_wsgi 4.9 names them
 * (docs/mod_wsgi-reference.md section 1: `<ServerName>[:port]|<mount lower-cased>`, `''` for
 * %{GLOBAL}, `<ServerName>[:port]` for %{SERVER}; `:port` from the Host header, left out for 80).
 */
import test from 'ava';
import http from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { loadConfig, Site, type LogRecord } from '../ts/index.js';
import {
  DEBIAN_PYTHON, copyApps, freePort, getJson, send, template, worldTempDir, writeFile,
} from './helpers/config-serve.js';

let site: Site | undefined;
const servers: http.Server[] = [];
const sockets = new Set<Socket>();
let port: number;
const logs: LogRecord[] = [];
let setupError: Error | undefined;

test.before(async () => {
  try {
    const dir = worldTempDir('pyhost-groups-');
    const apps = copyApps(path.join(dir, 'apps'));
    port = await freePort();
    const config = writeFile(dir, 'groups.conf', template('groups.conf', { PORT: port, APPS: apps }));
    const plan = loadConfig(config);
    site = await Site.start(plan, { python: DEBIAN_PYTHON, logger: (r) => logs.push(r), logLevel: 'info' });
    for (const l of site.listeners) {
      const s = http.createServer(l.handler);
      s.on('connection', (c) => {
        sockets.add(c);
        c.on('close', () => sockets.delete(c));
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(l.port, l.host, resolve);
      });
      servers.push(s);
    }
  } catch (err) {
    setupError = err as Error;
  }
});

test.after.always(async () => {
  for (const c of sockets) c.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await site?.close();
});

type Env = Record<string, string>;

async function env(target: string, host?: string): Promise<Env> {
  if (setupError) throw setupError;
  const { status, json, text } = await getJson<Env>(port, target, host);
  if (status !== 200) throw new Error(`GET ${target}: ${status} ${text.slice(0, 200)}`);
  return json;
}

const ME = () => `127.0.0.1:${port}`;

interface Row {
  target: string;
  host?: string;
  application: () => string;
  process: string;
  scriptName?: string;
}

const EMBEDDED: Row[] = [
  { target: '/res/x', application: () => `${ME()}|/res`, process: '' },
  { target: '/res', application: () => `${ME()}|/res`, process: '' },
  { target: '/res-opt/x', application: () => `${ME()}|/res-opt`, process: '' },
  { target: '/glob/x', application: () => '', process: '' },
  { target: '/srv/x', application: () => ME(), process: '' },
  { target: '/named/x', application: () => 'my-literal-group', process: '' },
  { target: '/Mixed/x', application: () => `${ME()}|/mixed`, process: '', scriptName: '/Mixed' },
  { target: '/sub2/', application: () => `${ME()}|/sub2/`, process: '', scriptName: '/sub2/' },
  { target: '/x/y', application: () => `${ME()}|`, process: '', scriptName: '' },
  { target: '/loc/x', application: () => 'location-level', process: '' },
  { target: '/opt-loc/x', application: () => 'option-level', process: '' },
  { target: '/host/x', application: () => ME(), process: '' },
  { target: '/env-unset/x', application: () => '%{ENV:PYHOST_TEST_SURELY_UNSET}', process: '' },
  { target: '/m/env/x/y', application: () => `${ME()}|/m/env`, process: '', scriptName: '/m/env' },
  { target: '/res/x', host: 'example.com:80', application: () => '127.0.0.1|/res', process: '' },
  { target: '/res/x', host: 'example.com:443', application: () => '127.0.0.1|/res', process: '' },
  { target: '/srv/x', host: 'example.com:80', application: () => '127.0.0.1', process: '' },
  { target: '/host/x', host: 'example.com', application: () => 'example.com', process: '' },
];

const DAEMON: Row[] = [
  { target: '/d/res/x', application: () => `${ME()}|/d/res`, process: 'grp' },
  { target: '/d/glob/x', application: () => '', process: 'grp' },
  { target: '/d/srv/x', application: () => ME(), process: 'grp' },
  { target: '/d/named/x', application: () => 'd-literal-group', process: 'grp' },
  { target: '/d/loc/x', application: () => '', process: 'grp' },
  { target: '/d/m/env/x', application: () => `${ME()}|/d/m/env`, process: 'grp', scriptName: '/d/m/env' },
  { target: '/d/res/x', host: 'example.com:80', application: () => '127.0.0.1|/d/res', process: 'grp' },
];

for (const [mode, rows] of [['embedded', EMBEDDED], ['daemon', DAEMON]] as const) {
  for (const row of rows) {
    test(`${mode}: GET ${row.target}${row.host ? ` (Host: ${row.host})` : ''}`, async (t) => {
      const e = await env(row.target, row.host);
      t.is(e['mod_wsgi.application_group'], row.application(), 'mod_wsgi.application_group');
      t.is(e['mod_wsgi.process_group'], row.process, 'mod_wsgi.process_group');
      if (row.scriptName !== undefined) t.is(e.SCRIPT_NAME, row.scriptName, 'SCRIPT_NAME');
    });
  }
}

test('no Host header (HTTP/1.0): port 80, so the name has no port (g1)', async (t) => {
  if (setupError) throw setupError;
  const r = await send(port, { target: '/res/x', host: null, http10: true });
  t.is(r.status, 200);
  const e = JSON.parse(r.body.toString()) as Env;
  t.is(e.SERVER_PORT, '80');
  t.is(e['mod_wsgi.application_group'], '127.0.0.1|/res');
});

test('a Host header without a port: port 80, so the name has no port (g1: Host example.com -> 127.0.0.1|)', async (t) => {
  const e = await env('/res/x', 'example.com');
  t.is(e.SERVER_PORT, '80');
  t.is(e['mod_wsgi.application_group'], '127.0.0.1|/res');
  const s = await env('/srv/x', 'example.com');
  t.is(s['mod_wsgi.application_group'], '127.0.0.1');
});

test('a Host header naming another port: SERVER_PORT follows it, the group name does not (intended difference from mod_wsgi)', async (t) => {
  // mod_wsgi puts 8080 in the name (g1); pyhost keeps names to the listening port, 80 and 443 so a
  // client cannot create interpreters by naming ports (docs/mod_wsgi-reference.md, "Where pyhost differs").
  const e = await env('/', 'example.com:8080');
  t.is(e.SERVER_PORT, '8080');
  t.regex(e['mod_wsgi.application_group'] as string, /^127\.0\.0\.1:\d+\|$/);
  t.not(e['mod_wsgi.application_group'], '127.0.0.1:8080|');
});

test('each embedded application group is an interpreter of that name; the daemon group ran; no errors logged', async (t) => {
  if (setupError) throw setupError;
  await Promise.all(['/res/x', '/named/x', '/glob/x', '/loc/x', '/d/res/x'].map((u) => env(u)));
  const names = site!.engine.listGroups().map((g) => g.name);
  for (const n of [`${ME()}|/res`, 'my-literal-group', 'location-level', '%{GLOBAL}']) t.true(names.includes(n), `${n} in ${names.join(', ')}`);
  t.false(names.includes(`${ME()}|/d/res`), 'a daemon mount creates no embedded interpreter');
  t.truthy(site!.engine.listDaemonGroups().find((g) => g.name === 'grp'), 'daemon group grp exists');
  t.false(logs.some((r) => r.level === 'error'), logs.filter((r) => r.level === 'error').map((r) => r.message).join('\n'));
});
