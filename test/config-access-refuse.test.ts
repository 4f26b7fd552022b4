/**
 * Fail closed: every access restriction pyhost does not enforce makes the plan list it (file,
 * line, reason), `check-config` and `start-server --config` refuse the file, and
 * `--allow-unenforced` starts anyway and logs each one once. Apache is run on the same
 * restrictions to show that each really refuses requests (401 or 403) that pyhost, had it
 * ignored them, would have served.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../ts/config/index.js';
import { ConfigError } from '../ts/errors.js';
import { apacheAvailable, startApache } from './helpers/apache.js';
import { ACCESS_MODULES } from './helpers/access-fixtures.js';
import { FIXTURES, copyApps, freePorts, runPyhost, send, startPyhost, worldTempDir, writeFile } from './helpers/config-serve.js';

const dir = worldTempDir('pyhost-refuse-');
const apps = copyApps(path.join(dir, 'apps'));

interface Case {
  name: string;
  /** Lines inside the file after `WSGIScriptAlias /app ...`; `@@` marks the line to be named. */
  lines: string[];
  reason: RegExp;
  /** A URL Apache refuses with this configuration (checked when Apache is installed). */
  apache?: { target: string; status: number; modules?: Array<[string, string]>; setup?: () => void };
}

const htaccessDir = path.join(apps, 'guarded');
const CASES: Case[] = [
  { name: 'Require expr', lines: ['<Location /app/e>', '@@ Require expr "%{REMOTE_ADDR} == \'10.9.9.9\'"', '</Location>'], reason: /ap_expr/,
    apache: { target: '/app/e', status: 403 } },
  { name: '<If> around Require', lines: ['<Location /app/if>', '  <If "%{QUERY_STRING} == \'\'">', '@@  Require all denied', '  </If>', '</Location>'],
    reason: /inside <If> .*does not evaluate <If> conditions/, apache: { target: '/app/if', status: 403 } },
  { name: 'Require host (DNS)', lines: ['<Location /app/h>', '@@ Require host example.invalid', '</Location>'], reason: /DNS/,
    apache: { target: '/app/h', status: 403 } },
  { name: 'unknown authorization provider', lines: ['<Location /app/u>', '@@ Require ldap-group cn=x', '</Location>'], reason: /no 'ldap-group' authorization provider/ },
  { name: 'AuthType Digest', lines: ['<Location /app/d>', '@@ AuthType Digest', '  AuthName d', '  AuthDigestProvider file', '  Require valid-user', '</Location>'],
    reason: /Basic authentication only/,
    apache: { target: '/app/d', status: 401, modules: [['auth_digest_module', 'mod_auth_digest.so']] } },
  { name: 'an authentication provider pyhost does not have', lines: ['<Location /app/p>', '  AuthType Basic', '  AuthName p', '@@ AuthBasicProvider dbm', '  Require valid-user', '</Location>'],
    reason: /provider 'dbm'/ },
  { name: 'Deny in <Proxy>', lines: ['<Proxy "*">', '@@ Require all denied', '</Proxy>'], reason: /inside <Proxy> .*pyhost does not proxy/ },
  { name: 'RewriteRule', lines: ['@@RewriteRule ^/app/r - [F]'], reason: /mod_rewrite/,
    apache: { target: '/app/r', status: 403, modules: [['rewrite_module', 'mod_rewrite.so']], setup: undefined } },
  { name: 'Allow from a host name', lines: ['<Location /app/a>', '  Order deny,allow', '@@ Deny from evil.example', '</Location>'], reason: /host name needs DNS/ },
  { name: 'SetEnvIfExpr deciding Require env', lines: ['<Location /app/s>', '@@ SetEnvIfExpr "true" ok', '  Require env ok', '</Location>'], reason: /SetEnvIfExpr/ },
  { name: 'Require inside an <IfModule> pyhost does not know', lines: ['<IfModule mod_security2.c>', '  <Location /app/m>', '@@   Require all denied', '  </Location>', '</IfModule>'],
    reason: /inside <IfModule mod_security2\.c> .*does not know that module/ },
  { name: 'SSLRequireSSL', lines: ['<Location /app/ssl>', '@@ SSLRequireSSL', '</Location>'], reason: /mod_ssl/ },
  { name: 'a .htaccess file AllowOverride lets restrict access', lines: [`<Directory ${htaccessDir}>`, '  AllowOverride AuthConfig', '</Directory>', `Alias /guarded/ ${htaccessDir}/`],
    reason: /AllowOverride AuthConfig .*lets this file restrict access.*reads no \.htaccess/,
    apache: { target: '/guarded/doc.txt', status: 403 } },
];

fs.mkdirSync(htaccessDir, { recursive: true, mode: 0o755 });
fs.writeFileSync(path.join(htaccessDir, 'doc.txt'), 'doc\n', { mode: 0o644 });
fs.writeFileSync(path.join(htaccessDir, '.htaccess'), 'Require all denied\n', { mode: 0o644 });

function caseFile(c: Case, i: number): { file: string; line: number } {
  const head = [`WSGIScriptAlias /app ${apps}/env.wsgi`, `<Directory ${apps}>`, '  Require all granted', '</Directory>'];
  const body = c.lines.map((l) => l.replace(/^@@ ?/, '  ').replace(/^  (?=RewriteRule)/, ''));
  const at = c.lines.findIndex((l) => l.startsWith('@@'));
  const file = writeFile(dir, `case${i}.conf`, ['Listen 127.0.0.1:1', 'ServerName 127.0.0.1', ...head, ...body].join('\n'));
  return { file, line: 2 + head.length + at + 1 };
}

for (const [i, c] of CASES.entries()) {
  test(`unenforced: ${c.name} is listed with file:line and the reason, and serving refuses it`, async (t) => {
    const { file, line } = caseFile(c, i);
    const plan = loadConfig(file, { env: {} });
    t.true(plan.unenforced.length >= 1, 'listed');
    const u = c.name.startsWith('a .htaccess') ? plan.unenforced.find((x) => x.file.endsWith('.htaccess'))! : plan.unenforced[0]!;
    if (c.name.startsWith('a .htaccess')) t.is(u.file, path.join(htaccessDir, '.htaccess'));
    else t.deepEqual([u.file, u.line], [file, line]);
    t.regex(u.reason, c.reason);
    const { Site } = await import('../ts/site/site.js');
    const err = await t.throwsAsync(Site.start(plan), { instanceOf: ConfigError });
    t.regex(err!.message, /refusing to serve what Apache would protect/);
  });
}

test('unenforced restrictions: Apache refuses each of these requests (so ignoring them would open what Apache keeps closed)', async (t) => {
  if (!apacheAvailable()) return void t.pass('apache2 + mod_wsgi not installed');
  const withApache = CASES.filter((c) => c.apache);
  const modules = [...ACCESS_MODULES, ...withApache.flatMap((c) => c.apache!.modules ?? [])];
  const site = [`WSGIScriptAlias /app ${apps}/env.wsgi`, `<Directory ${apps}>`, '  Require all granted', '</Directory>', 'RewriteEngine On',
    ...withApache.flatMap((c) => c.lines.map((l) => l.replace(/^@@ ?/, '  ').replace(/^  (?=RewriteRule)/, '')))].join('\n');
  const apache = await startApache({ site, modules, startTimeoutMs: 60_000 });
  try {
    for (const c of withApache) t.is((await send(apache.port, { target: c.apache!.target })).status, c.apache!.status, `${c.name}: ${c.apache!.target}`);
  } finally {
    await apache.stop();
  }
});

test('check-config refuses a file with unenforced restrictions (exit 1, each named with file:line); --allow-unenforced accepts it', async (t) => {
  const { file, line } = caseFile(CASES[0]!, 100);
  const r = await runPyhost(['check-config', file]);
  t.is(r.code, 1);
  t.true(r.stderr.includes(`${file}:${line}: Require expr: not enforced:`), r.stderr);
  t.regex(r.stderr, /refused: 1 access restriction/);
  t.regex(r.stdout, /Access restrictions pyhost does not enforce:\n {2}case100\.conf:\d+: Require expr: /);
  const ok = await runPyhost(['check-config', file, '--allow-unenforced']);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /Syntax OK \(1 access restriction\(s\) NOT ENFORCED: --allow-unenforced\)/);
});

test('start-server --config refuses it; with --allow-unenforced it serves and logs each protection left off, once, at start', async (t) => {
  const [port] = await freePorts(1);
  const file = writeFile(dir, 'serve.conf', [
    `Listen 127.0.0.1:${port}`, 'ServerName 127.0.0.1', `WSGIScriptAlias /app ${apps}/env.wsgi`,
    '<Location /app/e>', '  Require expr "false"', '</Location>', '<Location /app/h>', '  Require host example.invalid', '</Location>',
  ].join('\n'));
  const refused = await runPyhost(['start-server', '--config', file]);
  t.is(refused.code, 2, 'a configuration error, as for any other bad line');
  t.regex(refused.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5: Require expr: .*refusing to serve`));
  const server = await startPyhost({ config: file, ports: [port!], extraArgs: ['--allow-unenforced'] });
  try {
    for (let i = 0; i < 3; i++) t.is((await send(port!, { target: '/app/e' })).status, 200, 'served: the protection is off');
    const log = server.stderr();
    t.is(log.match(/serve\.conf:5: Require expr: NOT ENFORCED/g)?.length, 1, log);
    t.is(log.match(/serve\.conf:8: Require host: NOT ENFORCED/g)?.length, 1, log);
  } finally {
    await server.stop();
  }
});

test('auth hooks: process-group= must name a daemon group, and without one WSGIRestrictEmbedded On is an error', (t) => {
  const bad = writeFile(dir, 'hook-nogroup.conf', [`WSGIScriptAlias /app ${apps}/env.wsgi`, '<Location /app>', `  WSGIAccessScript ${FIXTURES}/hooks/hooks.py process-group=nope`, '</Location>'].join('\n'));
  t.throws(() => loadConfig(bad, { env: {} }), { message: /:3: No WSGI daemon process called 'nope'/ });
  const restricted = writeFile(dir, 'hook-restricted.conf', [
    'WSGIRestrictEmbedded On', 'WSGIDaemonProcess d', `WSGIScriptAlias /app ${apps}/env.wsgi process-group=d`,
    '<Location /app>', `  WSGIAuthUserScript ${FIXTURES}/hooks/hooks.py`, '</Location>',
  ].join('\n'));
  t.throws(() => loadConfig(restricted, { env: {} }), { message: /:5: .*WSGIRestrictEmbedded On turns embedded Python off: add process-group=/ });
  const wua = writeFile(dir, 'wua.conf', ['<Location /x>', '  WSGIUserAuthoritative Off', '</Location>'].join('\n'));
  t.throws(() => loadConfig(wua, { env: {} }), { message: /:2: Invalid command 'WSGIUserAuthoritative'.*AuthBasicAuthoritative/ });
});

test('a .htaccess file created after start is refused at request time (403)', async (t) => {
  const [port] = await freePorts(1);
  const later = path.join(apps, 'later');
  fs.mkdirSync(later, { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(later, 'doc.txt'), 'doc\n', { mode: 0o644 });
  const file = writeFile(dir, 'later.conf', [
    `Listen 127.0.0.1:${port}`, 'ServerName 127.0.0.1', `Alias /later/ ${later}/`, `<Directory ${later}>`, '  AllowOverride All', '</Directory>',
  ].join('\n'));
  const server = await startPyhost({ config: file, ports: [port!] });
  try {
    t.is((await send(port!, { target: '/later/doc.txt' })).status, 200);
    fs.writeFileSync(path.join(later, '.htaccess'), 'Require all denied\n', { mode: 0o644 });
    t.is((await send(port!, { target: '/later/doc.txt' })).status, 403);
  } finally {
    await server.stop();
  }
});
