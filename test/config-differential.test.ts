/**
 * The differential test of issue 8: one configuration file (test/fixtures/config-serve/
 * differential.conf) and one app (apps/env.wsgi, which dumps SCRIPT_NAME, PATH_INFO,
 * QUERY_STRING, mod_wsgi.process_group, mod_wsgi.application_group, ... as JSON), served by
 * Debian's apache2 + mod_wsgi 4.9 and by `pyhost start-server --config`, in embedded mode and in
 * daemon mode (`-D DAEMON`: WSGIDaemonProcess + WSGIProcessGroup). Each request goes to both;
 * the status must be the same, and when the app answered (header X-Env-App) its body must be the
 * same byte for byte once each server's own ports are replaced by PORT (the main server's) and
 * VPORT (a second port, where two name-based virtual hosts answer). Each case also checks what
 * mod_wsgi answered against docs/mod_wsgi-reference.md, so a wrong expectation is caught too.
 *
 * Apache and pyhost include the same file from a wrapper each: Apache's test helper writes the
 * modules, `Listen`, `ServerName 127.0.0.1` and logs around `Define APPS`, `Define VPORT` and
 * `Include`; pyhost's wrapper has `Listen` (both ports), `ServerName 127.0.0.1` and the same three.
 * A failing case logs each difference as `field: mod_wsgi <value> | pyhost <value>`.
 */
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import { apacheAvailable, startApache, type ApacheServer } from './helpers/apache.js';
import {
  FIXTURES, copyApps, freePorts, send, startPyhost, worldTempDir, writeFile, type Exchange, type PyhostServer, type Reply,
} from './helpers/config-serve.js';

type Mode = 'embedded' | 'daemon';
interface Pair {
  apache: ApacheServer;
  pyhost: PyhostServer;
  /** pyhost's ports: the main server's, the virtual hosts'. */
  pyhostPorts: [number, number];
}
const servers: Partial<Record<Mode, Pair>> = {};
let setupError: Error | undefined;

const available = apacheAvailable();

test.before(async () => {
  if (!available) return;
  const dir = worldTempDir('pyhost-differential-');
  const apps = copyApps(path.join(dir, 'apps'));
  const include = path.join(FIXTURES, 'differential.conf');
  const site = (vport: number) => `Define APPS ${apps}\nDefine VPORT ${vport}\nInclude ${include}\n`;
  const start = async (mode: Mode): Promise<void> => {
    const defines = mode === 'daemon' ? ['DAEMON'] : [];
    const [a1, a2, p1, p2] = await freePorts(4);
    const apachePorts = [a1!, a2!];
    const pyhostPorts: [number, number] = [p1!, p2!];
    const wrapper = writeFile(dir, `pyhost-${mode}.conf`, [
      "# pyhost's wrapper (what test/helpers/apache.ts adds for Apache)",
      ...pyhostPorts.map((p) => `Listen 127.0.0.1:${p}`),
      'ServerName 127.0.0.1',
      site(pyhostPorts[1]),
    ].join('\n'));
    const [apache, pyhost] = await Promise.allSettled([
      startApache({ site: site(apachePorts[1]!), ports: apachePorts, defines, startTimeoutMs: 60_000 }),
      startPyhost({ config: wrapper, ports: pyhostPorts, defines }),
    ]);
    if (apache.status === 'rejected' || pyhost.status === 'rejected') {
      if (apache.status === 'fulfilled') await apache.value.stop();
      if (pyhost.status === 'fulfilled') await pyhost.value.stop();
      throw (apache.status === 'rejected' ? apache.reason : (pyhost as PromiseRejectedResult).reason) as Error;
    }
    servers[mode] = { apache: apache.value, pyhost: pyhost.value, pyhostPorts };
  };
  const results = await Promise.allSettled([start('embedded'), start('daemon')]);
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) setupError = failed.reason as Error;
});

test.after.always(async () => {
  await Promise.all(Object.values(servers).flatMap((p) => [p.apache.stop(), p.pyhost.stop()]));
});

/** What we compare of one reply: status, whether the app made it, and its body (port-normalised). */
interface Seen {
  status: number;
  app: string | undefined;
  body: string;
  json?: Record<string, unknown>;
}

function seen(r: Reply, ports: readonly number[]): Seen {
  const app = r.header('x-env-app');
  const body = r.body.toString('latin1')
    .replace(new RegExp(`\\b${ports[0]}\\b`, 'g'), 'PORT')
    .replace(new RegExp(`\\b${ports[1]}\\b`, 'g'), 'VPORT');
  let json: Record<string, unknown> | undefined;
  if (app === 'env' && body) {
    try {
      json = JSON.parse(body) as Record<string, unknown>;
    } catch {
      /* compared as text */
    }
  }
  return { status: r.status, app, body, json };
}

const FIELDS = ['SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'mod_wsgi.process_group', 'mod_wsgi.application_group'];

/** Every difference, one line each: `field: mod_wsgi <value> | pyhost <value>`. */
function differences(a: Seen, p: Seen, intended: Record<string, string> = {}): string[] {
  const out: string[] = [];
  const show = (v: unknown) => JSON.stringify(v);
  if (a.status !== p.status) out.push(`status: mod_wsgi ${a.status} | pyhost ${p.status}`);
  if ((a.app ?? '') !== (p.app ?? '')) {
    out.push(`answered by the app: mod_wsgi ${a.app ? `yes (${a.app})` : 'no'} | pyhost ${p.app ? `yes (${p.app})` : 'no'}`);
  }
  if (a.app && p.app) {
    if (a.json && p.json) {
      for (const k of new Set([...Object.keys(a.json), ...Object.keys(p.json)])) {
        if (k in intended) {
          // A documented, intended difference: pyhost must say what the reference doc says it does.
          if (show(p.json[k]) !== show(intended[k])) out.push(`${k}: pyhost ${show(p.json[k])}, intended ${show(intended[k])}`);
        } else if (show(a.json[k]) !== show(p.json[k])) {
          out.push(`${k}: mod_wsgi ${show(a.json[k])} | pyhost ${show(p.json[k])}`);
        }
      }
    }
    // JSON bodies were compared field by field above (with the intended differences); others whole.
    if (!(a.json && p.json) && a.body !== p.body) out.push(`body: mod_wsgi ${show(a.body)} | pyhost ${show(p.body)}`);
  }
  return out;
}

interface Case extends Exchange {
  /** Only in this mode. */
  only?: Mode;
  /** Send it to the virtual hosts' port (VPORT) instead of the main server's. */
  vhost?: boolean;
  /** What the app must say (checked on both servers, so a shared mistake is caught too). */
  expect?: { status?: number; fields?: Record<string, string> };
  /**
   * Fields where pyhost differs from mod_wsgi on purpose (docs/mod_wsgi-reference.md, "Where
   * pyhost differs"), with pyhost's value: compared with that instead of mod_wsgi's.
   */
  intended?: Record<string, string>;
}

const HOST_80 = 'example.com';
const CASES: Case[] = [
  // The root mount.
  { target: '/', expect: { status: 200, fields: { SCRIPT_NAME: '', PATH_INFO: '/', 'mod_wsgi.application_group': '127.0.0.1:PORT|' } } },
  { target: '/x/y', expect: { fields: { SCRIPT_NAME: '', PATH_INFO: '/x/y' } } },
  { target: '//x', expect: { fields: { SCRIPT_NAME: '', PATH_INFO: '/x' } } },
  { target: '/a%20b', expect: { fields: { PATH_INFO: '/a b' } } },
  { target: '/%C3%A9', expect: { fields: { PATH_INFO: '/\u00c3\u00a9' } } },
  { target: '/x?a=1&b=%20c', expect: { fields: { QUERY_STRING: 'a=1&b=%20c' } } },
  { target: '/appx', expect: { fields: { SCRIPT_NAME: '', PATH_INFO: '/appx' } } },
  // WSGIScriptAlias /app
  { target: '/app', expect: { fields: { SCRIPT_NAME: '/app', PATH_INFO: '', 'mod_wsgi.application_group': '127.0.0.1:PORT|/app' } } },
  { target: '/app/', expect: { fields: { SCRIPT_NAME: '/app', PATH_INFO: '/' } } },
  { target: '/app/x/y?q=1&b=%20c', expect: { fields: { SCRIPT_NAME: '/app', PATH_INFO: '/x/y', QUERY_STRING: 'q=1&b=%20c' } } },
  { target: '/app//x', expect: { fields: { SCRIPT_NAME: '/app', PATH_INFO: '/x' } } },
  { target: '//app/x', expect: { fields: { SCRIPT_NAME: '/app', PATH_INFO: '/x' } } },
  { target: '/ap%70/x', expect: { fields: { SCRIPT_NAME: '/app', PATH_INFO: '/x' } } },
  { target: '/app/a%20b', expect: { fields: { PATH_INFO: '/a b' } } },
  { target: '/app/%C3%A9?q=%C3%A9', expect: { fields: { PATH_INFO: '/\u00c3\u00a9', QUERY_STRING: 'q=%C3%A9' } } },
  { target: '/app?', expect: { fields: { SCRIPT_NAME: '/app', QUERY_STRING: '' } } },
  { target: '/app/./x' },
  { target: '/app/x/../y' },
  { target: '/app/a%2Fb', expect: { status: 404 } },
  { target: '/app/x;p=1' },
  { target: '/app/%E9', expect: { fields: { PATH_INFO: '/\u00e9' } } },
  { target: '/app/x%3Fy', expect: { fields: { PATH_INFO: '/x?y' } } },
  { target: '/app/%00' },
  { target: '/app/..', expect: { fields: { SCRIPT_NAME: '', PATH_INFO: '/' } } },
  { target: '/app/%2e%2e/x', expect: { fields: { SCRIPT_NAME: '', PATH_INFO: '/x' } } },
  { target: '/APP/x', expect: { fields: { SCRIPT_NAME: '', PATH_INFO: '/APP/x' } } },
  { target: '/app/x#frag' },
  { target: 'http://example.com:81/abs/uri?q=1', expect: { fields: { SCRIPT_NAME: '', PATH_INFO: '/abs/uri', SERVER_NAME: 'example.com', SERVER_PORT: '81' } },
    // A port in the Host (or the absolute URI) other than the listening port, 80 or 443 does not
    // name interpreters in pyhost (clients must not create them at will).
    intended: { 'mod_wsgi.application_group': '127.0.0.1:PORT|' } },
  // A trailing-slash mount: only the exact URL; `/slash` falls through to `/`.
  { target: '/slash/', expect: { fields: { SCRIPT_NAME: '/slash/', PATH_INFO: '' } } },
  { target: '/slash', expect: { fields: { SCRIPT_NAME: '', PATH_INFO: '/slash' } } },
  { target: '/slash/x', expect: { status: 404 } },
  // Group names.
  { target: '/Mixed/x', expect: { fields: { SCRIPT_NAME: '/Mixed', 'mod_wsgi.application_group': '127.0.0.1:PORT|/mixed' } } },
  { target: '/glob/x', expect: { fields: { 'mod_wsgi.application_group': '' } } },
  { target: '/named/x', expect: { fields: { 'mod_wsgi.application_group': 'named-group' } } },
  { target: '/res/x', expect: { fields: { 'mod_wsgi.application_group': '127.0.0.1:PORT|/res' } } },
  { target: '/srv/x', expect: { fields: { 'mod_wsgi.application_group': '127.0.0.1:PORT' } } },
  { target: '/emb/x', expect: { fields: { 'mod_wsgi.process_group': '' } } },
  // WSGIScriptAliasMatch
  { target: '/m/env', expect: { fields: { SCRIPT_NAME: '/m/env', PATH_INFO: '' } } },
  { target: '/m/env/x/y?z=1', expect: { fields: { SCRIPT_NAME: '/m/env', PATH_INFO: '/x/y', 'mod_wsgi.application_group': '127.0.0.1:PORT|/m/env' } } },
  { target: '/m/missing/x', expect: { status: 404 } },
  { target: '/m/env/', expect: { fields: { SCRIPT_NAME: '/m/env', PATH_INFO: '/' } } },
  { target: '/api/v2', expect: { fields: { SCRIPT_NAME: '/api/v2', PATH_INFO: '' } } },
  { target: '/api/v2/items?id=3', expect: { fields: { SCRIPT_NAME: '/api/v2', PATH_INFO: '/items', QUERY_STRING: 'id=3' } } },
  // The app's own bodies and statuses.
  { target: '/app/text', expect: { status: 200 } },
  { target: '/app/created', expect: { status: 201 } },
  { target: '/app/gone', expect: { status: 404 } },
  { method: 'HEAD', target: '/app/x' },
  { method: 'HEAD', target: '/app/text' },
  { method: 'POST', target: '/app/form?x=1', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'a=1&b=%C3%A9',
    expect: { fields: { REQUEST_METHOD: 'POST', body: 'a=1&b=%C3%A9', CONTENT_LENGTH: '12' } } },
  { method: 'POST', target: '/', headers: [['Content-Type', 'text/plain; charset=utf-8']], body: Buffer.from('héllo wörld', 'utf8') },
  { method: 'POST', target: '/app/empty', body: '', expect: { fields: { CONTENT_LENGTH: '0', body: '' } } },
  { method: 'POST', target: '/app/chunked', body: 'hello world', chunked: 5 },
  { method: 'PUT', target: '/m/env/put', body: 'put body' },
  // Static files (Alias /static/).
  { target: '/static/hello.txt', expect: { status: 200 } },
  { target: '/static/missing.txt', expect: { status: 404 } },
  { target: '/static', expect: { fields: { SCRIPT_NAME: '', PATH_INFO: '/static' } } },
  // The Host header: names come from ServerName; the port from the Host header (none: 80).
  { target: '/app/x', host: HOST_80, expect: { fields: { SERVER_NAME: 'example.com', SERVER_PORT: '80', 'mod_wsgi.application_group': '127.0.0.1|/app' } } },
  { target: '/app/x', host: `${HOST_80}:80`, expect: { fields: { 'mod_wsgi.application_group': '127.0.0.1|/app' } } },
  { target: '/srv/x', host: HOST_80, expect: { fields: { 'mod_wsgi.application_group': '127.0.0.1' } } },
  { target: '/', http10: true, host: null, expect: { fields: { SERVER_PORT: '80', 'mod_wsgi.application_group': '127.0.0.1|' } } },
  { target: '/app/x', host: `${HOST_80}:8080`, expect: { fields: { 'mod_wsgi.application_group': '127.0.0.1:8080|/app' } },
    intended: { 'mod_wsgi.application_group': '127.0.0.1:PORT|/app' } },
  // Name-based virtual hosts (on VPORT): the Host header picks one; names use its ServerName.
  { vhost: true, target: '/x', host: 'alpha.test:VPORT', expect: { fields: { SCRIPT_NAME: '', 'mod_wsgi.application_group': 'alpha.test:VPORT|' } } },
  { vhost: true, target: '/alpha/x', host: 'www.alpha.test:VPORT', expect: { fields: { SERVER_NAME: 'www.alpha.test', 'mod_wsgi.application_group': 'alpha.test:VPORT|/alpha' } } },
  { vhost: true, target: '/x', host: 'WWW.Alpha.Test', expect: { fields: { SERVER_PORT: '80', 'mod_wsgi.application_group': 'alpha.test|' } } },
  { vhost: true, target: '/app/x', host: 'alpha.test:VPORT', expect: { fields: { SCRIPT_NAME: '', PATH_INFO: '/app/x', 'mod_wsgi.application_group': 'alpha.test:VPORT|' } } },
  { vhost: true, target: '/app/x', host: 'beta.test:VPORT', expect: { fields: { SCRIPT_NAME: '/app', 'mod_wsgi.application_group': 'beta.test:VPORT|/app' } } },
  { vhost: true, target: '/b/x', host: 'beta.test:VPORT', expect: { fields: { SCRIPT_NAME: '/b', 'mod_wsgi.application_group': 'beta.test:VPORT|/b' } } },
  { vhost: true, target: '/b/x', host: 'beta.test', expect: { fields: { SERVER_PORT: '8080', 'mod_wsgi.application_group': 'beta.test:8080|/b' } } },
  { vhost: true, target: '/b/srv/x', host: 'beta.test:VPORT', expect: { fields: { 'mod_wsgi.application_group': 'beta.test:VPORT' } } },
  { vhost: true, target: '/x', host: 'beta.test:VPORT', expect: { fields: { SCRIPT_NAME: '', 'mod_wsgi.application_group': 'beta.test:VPORT|' } } },
  { vhost: true, target: '/x', host: 'unknown.test:VPORT', expect: { fields: { 'mod_wsgi.application_group': 'alpha.test:VPORT|' } } },
  { vhost: true, target: '/x', expect: { fields: { 'mod_wsgi.application_group': 'alpha.test:VPORT|' } } },
];

function label(c: Case): string {
  const extra = [c.vhost ? 'vhost port' : '', c.host !== undefined ? `Host: ${c.host ?? '(none)'}` : '', c.http10 ? 'HTTP/1.0' : '']
    .filter(Boolean).join(', ');
  return `${c.method ?? 'GET'} ${c.target}${extra ? ` (${extra})` : ''}`;
}

/** The request for one server: `VPORT` in the Host header is that server's virtual-host port. */
function exchange(c: Case, vport: number): Exchange {
  return typeof c.host === 'string' ? { ...c, host: c.host.replace('VPORT', String(vport)) } : c;
}

async function compare(t: ExecutionContext, mode: Mode, c: Case): Promise<void> {
  if (!available) return void t.pass('apache2 + mod_wsgi not installed');
  if (setupError) throw setupError;
  const pair = servers[mode]!;
  const ap = pair.apache.ports;
  const pp = pair.pyhostPorts;
  const i = c.vhost ? 1 : 0;
  const [ra, rp] = await Promise.all([send(ap[i]!, exchange(c, ap[1]!)), send(pp[i], exchange(c, pp[1]))]);
  const a = seen(ra, ap);
  const p = seen(rp, pp);
  const diffs = differences(a, p, c.intended);
  if (diffs.length) t.log(`${mode} ${label(c)}:\n  ${diffs.join('\n  ')}`);
  t.deepEqual(diffs, [], `${mode} ${label(c)}: mod_wsgi and pyhost differ`);
  // Both must also say what mod_wsgi is documented to say (docs/mod_wsgi-reference.md).
  if (c.expect?.status !== undefined) t.is(a.status, c.expect.status, 'mod_wsgi status (reference)');
  const fields = { ...c.expect?.fields };
  if (mode === 'daemon' && !('mod_wsgi.process_group' in fields)) fields['mod_wsgi.process_group'] = 'diff';
  if (mode === 'embedded') fields['mod_wsgi.process_group'] = '';
  if (c.method === 'HEAD' || a.app !== 'env') return;
  t.truthy(a.json, `mod_wsgi answered JSON: ${a.body.slice(0, 200)}`);
  for (const [k, v] of Object.entries(fields)) t.is(a.json?.[k], v, `mod_wsgi ${k} (reference)`);
  if (p.json) for (const f of FIELDS) t.true(f in p.json, `pyhost environ has ${f}`);
}

for (const mode of ['embedded', 'daemon'] as const) {
  for (const c of CASES) {
    if (c.only && c.only !== mode) continue;
    test(`${mode}: ${label(c)} answers the same`, (t) => compare(t, mode, c));
  }
}

test('both modes really ran where they should (process groups, pyhost daemon processes)', async (t) => {
  if (!available) return void t.pass('apache2 + mod_wsgi not installed');
  if (setupError) throw setupError;
  t.deepEqual(servers.embedded!.pyhost.daemonPids(), [], 'embedded pyhost has no daemon process');
  t.true(servers.daemon!.pyhost.daemonPids().length >= 1, 'daemon pyhost runs daemon processes');
  t.regex(servers.daemon!.apache.errorLog(), /Starting process 'diff'/, "mod_wsgi started daemon 'diff'");
});
