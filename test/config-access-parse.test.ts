/**
 * Reading access directives: Apache's contexts and errors (file:line), the trees `Require` and
 * its containers build, `<Limit>` methods, the plan's layers in merge order; and the password
 * hashes pyhost checks, against reference implementations (Python 3.11's crypt module for DES
 * and `$1$` MD5-crypt, Apache's htpasswd for the others).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { desCrypt } from '../ts/access/des-crypt.js';
import { md5Crypt } from '../ts/access/md5-crypt.js';
import { hashFormat, verifyPassword } from '../ts/access/passwords.js';
import { loadConfig } from '../ts/config/index.js';
import { htpasswdAvailable } from './helpers/access-fixtures.js';
import { worldTempDir, writeFile } from './helpers/config-serve.js';
import { PY311 } from './helpers/pythons.js';

const dir = worldTempDir('pyhost-access-parse-');
let n = 0;
const load = (lines: string[]) => loadConfig(writeFile(dir, `c${n++}.conf`, lines.join('\n')), { env: {} });

function fails(t: import('ava').ExecutionContext, lines: string[], line: number, message: RegExp): void {
  const err = t.throws(() => load(lines));
  t.regex(err!.message, new RegExp(`:${line}: `), `line ${line}`);
  t.regex(err!.message, message);
}

test('access directives belong in <Directory>, <Location> and <Files>, as in Apache', (t) => {
  fails(t, ['Require all denied'], 1, /Require not allowed here/);
  fails(t, ['<VirtualHost *:80>', 'Order deny,allow', '</VirtualHost>'], 2, /order|Order not allowed in <VirtualHost> context/i);
  fails(t, ['<VirtualHost *:80>', '  <RequireAll>', '  </RequireAll>', '</VirtualHost>'], 2, /<RequireAll> not allowed in <VirtualHost> context/);
  fails(t, ['<Location /x>', '  AllowOverride All', '</Location>'], 2, /AllowOverride not allowed here .*<Directory> sections/);
  fails(t, ['<Location /x>', '  AccessFileName .acl', '</Location>'], 2, /AccessFileName not allowed here/);
});

test("Apache's checks of Require trees", (t) => {
  fails(t, ['<Location /x>', '  Require not ip 10.0.0.1', '</Location>'], 2, /negative Require directive has no effect in <RequireAny>/);
  fails(t, ['<Location /x>', '  <RequireNone>', '    Require ip 10.0.0.1', '  </RequireNone>', '</Location>'], 2, /<RequireNone> directive has no effect in <RequireAny>/);
  fails(t, ['<Location /x>', '  <RequireAll>', '  </RequireAll>', '</Location>'], 2, /contains no authorization directives/);
  fails(t, ['<Location /x>', '  <RequireAll>', '    Require not ip 10.0.0.1', '  </RequireAll>', '</Location>'], 2, /contains only negative authorization directives/);
  fails(t, ['<Location /x>', '  Require all maybe', '</Location>'], 2, /'Require all' must be 'granted' or 'denied'/);
  fails(t, ['<Location /x>', '  Require ip 10.0.0.300', '</Location>'], 2, /ip address '10\.0\.0\.300' appears to be invalid/);
  fails(t, ['<Location /x>', '  Require method FETCH', '</Location>'], 2, /Invalid Method 'FETCH'/);
  fails(t, ['<Location /x>', '  Order sideways', '</Location>'], 2, /unknown order/);
  fails(t, ['<Location /x>', '  Allow 10.0.0.1', '</Location>'], 2, /must be followed by 'from'/);
  fails(t, ['<Location /x>', '  Satisfy some', '</Location>'], 2, /Satisfy either 'any' or 'all'/);
  fails(t, ['<Location /x>', '  AuthMerging sometimes', '</Location>'], 2, /AuthMerging must be one of: Off \| And \| Or/);
  fails(t, ['<Location /x>', '  WSGIAccessScript /a.py bogus=1', '</Location>'], 2, /Invalid option to WSGI access script definition/);
});

test('the plan: each section\'s tree, <Limit> methods, merge order and the compat rules', (t) => {
  const plan = load([
    '<Location /b>', '  AuthType Basic', '  AuthName "R"', '  AuthUserFile users', '  <RequireAll>', '    Require valid-user',
    '    Require user alice bob', '  </RequireAll>', '  <Limit POST>', '    Require user alice', '  </Limit>', '</Location>',
    '<Directory /srv>', '  Order allow,deny', '  Allow from 10.1 env=ok', '  Deny from 10.1.2.3', '  <LimitExcept GET>', '    Satisfy any', '  </LimitExcept>', '</Directory>',
  ]);
  const layers = plan.mainServer.access.layers;
  t.deepEqual(layers.map((l) => l.label), ['<Directory /srv>', '<Location /b>'], 'directories before locations');
  const b = layers[1]!.access;
  t.is(b.authName?.value, 'R');
  t.is(b.userFile?.value, path.join(dir, 'users'), 'relative to the ServerRoot');
  t.deepEqual(b.require!.children.map((c) => [c.kind, c.limited]), [['group', { except: [] }], ['require', { only: ['POST'] }]]);
  const all = b.require!.children[0]!;
  t.like(all, { kind: 'group', op: 'all' });
  t.deepEqual((all as { children: { provider: string; args: string }[] }).children.map((c) => [c.provider, c.args]), [['valid-user', ''], ['user', 'alice bob']]);
  t.throws(() => load(['<Location /x>', '  <RequireAll>', '    Require all granted', '    <Limit POST>', '    </Limit>', '  </RequireAll>', '</Location>']),
    { message: /:4: <Limit> cannot occur within <RequireAll> section/ });
  const c = layers[0]!.access.compat!;
  t.deepEqual(c.order.map((o) => o.value), ['allow,deny']);
  t.deepEqual(c.allow.map((r) => [r.kind, r.value]), [['ip', '10.1'], ['env', 'ok']]);
  t.deepEqual(c.satisfy.map((s) => [s.value, s.methods]), [['any', { except: ['GET'] }]]);
  t.deepEqual(plan.unenforced, []);
});

test('DES crypt matches crypt(3) (Python 3.11\'s crypt module) for random passwords and salts', (t) => {
  if (!fs.existsSync(PY311)) return void t.pass('no Python 3.11');
  const alphabet = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const cases = Array.from({ length: 40 }, (_, i) => {
    const bytes = randomBytes(1 + (i % 12));
    const password = [...bytes].map((b) => String.fromCharCode(33 + (b % 94))).join('');
    const salt = alphabet[bytes[0]! % 64]! + alphabet[(bytes[0]! >> 2) % 64]!;
    return { password, salt };
  });
  const out = execFileSync(PY311, ['-W', 'ignore', '-c',
    'import crypt, json, sys\nfor c in json.load(sys.stdin): print(crypt.crypt(c["password"], c["salt"]) + "\\t" + crypt.crypt(c["password"], "$1$" + c["salt"] + "xy"))'],
  { input: JSON.stringify(cases), encoding: 'utf8' }).trim().split('\n');
  for (const [i, c] of cases.entries()) {
    const [des, md5] = out[i]!.split('\t');
    t.is(desCrypt(Buffer.from(c.password), c.salt), des, `DES ${JSON.stringify(c)}`);
    t.is(md5Crypt(Buffer.from(c.password), '$1$', `${c.salt}xy`), md5, `$1$ ${JSON.stringify(c)}`);
  }
});

test('htpasswd entries of every format: the right password matches, others do not; unknown formats never match', async (t) => {
  if (!htpasswdAvailable()) return void t.pass('no htpasswd');
  for (const flag of ['-B', '-m', '-s', '-d']) {
    const line = execFileSync('htpasswd', ['-nb', flag, 'u', 'pässword'], { encoding: 'latin1' }).trim();
    const hash = line.slice(2);
    t.not(hashFormat(hash), 'unsupported', `${flag}: ${hash}`);
    t.true(await verifyPassword(Buffer.from('pässword', 'utf8'), hash), `${flag} right password`);
    t.false(await verifyPassword(Buffer.from('password', 'utf8'), hash), `${flag} wrong password`);
  }
  t.is(hashFormat('$6$salt$abc'), 'unsupported');
  t.false(await verifyPassword(Buffer.from('x'), '$6$salt$abc'));
  t.false(await verifyPassword(Buffer.from('plain'), 'plain'), 'plaintext is not a format on Linux');
});

test("check-config's plan shows the access rule per URL prefix (the issue's example)", async (t) => {
  const { formatPlan } = await import('../ts/config/index.js');
  const plan = load([
    'Listen 127.0.0.1:18481', '<VirtualHost 127.0.0.1:18481>', '    ServerName localhost',
    '    WSGIScriptAlias /app /srv/site/wsgi.py', '    Alias /files/ /srv/secret/',
    '    <Directory /srv/site>', '        Require all granted', '    </Directory>',
    '    <Directory /srv/secret>', '        Require all denied', '    </Directory>',
    '    <Location /app/admin>', '        Require all denied', '    </Location>', '</VirtualHost>',
  ]);
  const out = formatPlan(plan);
  t.regex(out, /URL prefix \/app -> \/srv\/site\/wsgi\.py .*\n(.*\n)*? {6}access: {12}Require all granted\n {6}access below \/app\/admin: Require all denied \(<Location \/app\/admin>, c\d+\.conf:12\)/);
  t.regex(out, /static \/files\/ -> \/srv\/secret\/ .*\n {6}access: {12}Require all denied/);
});
