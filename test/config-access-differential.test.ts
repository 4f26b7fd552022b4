/**
 * Access control, differential: one configuration (test/fixtures/config-serve/access.conf) with
 * every rule pyhost enforces (Require all/ip/local/env/method/valid-user/user/group, RequireAll/
 * Any/None, Require not, <Limit>/<LimitExcept>, AuthMerging, AuthzSendForbiddenOnFailure,
 * Order/Allow/Deny/Satisfy, AuthType Basic with AuthUserFile and AuthGroupFile, SetEnvIf, and
 * <Directory>/<Files>/<FilesMatch>/<Location>/<LocationMatch> merging) on WSGI mounts and static
 * aliases, served by Debian's apache2 + mod_wsgi 4.9 and by `pyhost start-server --config`, in
 * embedded and in daemon mode. Every URL is requested from two client addresses (127.0.0.1 and
 * 127.0.0.2) with no credentials and with each user's right and wrong password (bcrypt, MD5,
 * SHA-1 and crypt entries made by Apache's htpasswd), GET and POST: the status, the
 * WWW-Authenticate header and, when the application answered, REMOTE_USER and AUTH_TYPE must
 * be the same. A few answers are also checked against what Apache is known to say.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { apacheAvailable } from './helpers/apache.js';
import { USERS, basic, htpasswdAvailable, startPair, writeUserFiles, type AccessPair } from './helpers/access-fixtures.js';
import { FIXTURES, copyApps, send, worldTempDir, writeFile, type Exchange, type Reply } from './helpers/config-serve.js';

type Mode = 'embedded' | 'daemon';
const available = apacheAvailable() && htpasswdAvailable();
const pairs: Partial<Record<Mode, AccessPair>> = {};
let setupError: Error | undefined;

test.before(async () => {
  if (!available) return;
  const dir = worldTempDir('pyhost-access-');
  const apps = copyApps(path.join(dir, 'apps'));
  fs.copyFileSync(path.join(apps, 'env.wsgi'), path.join(apps, 'denied.wsgi'));
  writeFile(apps, 'secret/key.txt', 'the key\n');
  writeFile(apps, 'static/private.txt', 'private\n');
  writeFile(apps, 'static/dm.txt', 'dm\n');
  writeFile(apps, 'static/guarded/doc.txt', 'guarded\n');
  for (const d of ['secret', 'static/guarded']) fs.chmodSync(path.join(apps, d), 0o755);
  const { users, groups } = writeUserFiles(dir);
  const site = [`Define APPS ${apps}`, `Define USERS ${users}`, `Define GROUPS ${groups}`, `Include ${path.join(FIXTURES, 'access.conf')}`].join('\n');
  const results = await Promise.allSettled((['embedded', 'daemon'] as const).map(async (mode) => {
    pairs[mode] = await startPair(dir, mode, site, mode === 'daemon' ? ['DAEMON'] : []);
  }));
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) setupError = failed.reason as Error;
});

test.after.always(async () => {
  await Promise.all(Object.values(pairs).flatMap((p) => [p.apache.stop(), p.pyhost.stop()]));
});

/** What is compared of a reply. */
function seen(r: Reply): string {
  const app = r.header('x-env-app');
  let user = '';
  if (app === 'env') {
    const j = JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
    user = ` REMOTE_USER=${JSON.stringify(j.REMOTE_USER)} AUTH_TYPE=${JSON.stringify(j.AUTH_TYPE)}`;
  }
  const auth = r.header('www-authenticate');
  return `${r.status}${auth ? ` WWW-Authenticate: ${auth}` : ''}${app ? ` app=${app}` : ''}${user}`;
}

const CLIENTS = ['127.0.0.1', '127.0.0.2'];
const CREDENTIALS: Array<[string, [string, string][]]> = [
  ['no credentials', []],
  ...USERS.map((u): [string, [string, string][]] => [`${u.user} (${u.flag})`, [basic(u.user, u.password)]]),
  ['alice, wrong password', [basic('alice', 'wrong')]],
  ['unknown user', [basic('nobody', 'x')]],
  ['Bearer token', [['Authorization', 'Bearer abc']]],
];

const URLS = [
  '/app/x', '/app/admin', '/app/admin/deeper', '/app/re1', '/app/ip', '/app/subnet', '/app/notip', '/app/local', '/app/method', '/app/limit',
  '/app/env', '/app/basic', '/app/basic/and', '/app/basic/or', '/app/basic/replace', '/app/user', '/app/group', '/app/forbidden',
  '/app/any', '/app/all', '/app/limitexcept', '/app/noname', '/app/notype', '/app/compat-deny', '/app/compat-allow',
  '/app/compat-mutual', '/app/compat-env', '/app/satisfy-any', '/app/satisfy-all', '/denied/x',
  '/files/hello.txt', '/files/private.txt', '/files/dm.txt', '/files/guarded/doc.txt', '/secret/key.txt', '/secret/missing.txt',
];

async function matrix(pair: AccessPair, url: string): Promise<{ diffs: string[]; apache: Map<string, string> }> {
  const diffs: string[] = [];
  const apache = new Map<string, string>();
  const jobs: Promise<void>[] = [];
  for (const from of CLIENTS) {
    for (const [who, headers] of CREDENTIALS) {
      // Static files: GET only (pyhost answers POST with 405, Apache serves the file: not access control).
      for (const method of url.startsWith('/app') || url.startsWith('/denied') ? ['GET', 'POST'] : ['GET']) {
        const pass: [string, string][] = url.includes('env') && from === '127.0.0.2' ? [['X-Pass', 'yes']] : [];
        const ex: Exchange = { method, target: url, from, headers: [...headers, ...pass], ...(method === 'POST' ? { body: 'x=1' } : {}) };
        const label = `${method} ${url} from ${from}, ${who}${pass.length ? ', X-Pass: yes' : ''}`;
        jobs.push((async () => {
          const [a, p] = await Promise.all([send(pair.apache.port, ex), send(pair.pyhostPort, ex)]);
          apache.set(label, seen(a));
          if (seen(a) !== seen(p)) diffs.push(`${label}: mod_wsgi ${seen(a)} | pyhost ${seen(p)}`);
        })());
      }
    }
  }
  await Promise.all(jobs);
  return { diffs: diffs.sort(), apache };
}

for (const mode of ['embedded', 'daemon'] as const) {
  for (const url of URLS) {
    test(`${mode}: ${url} answers as Apache does for every client, user and method`, async (t) => {
      if (!available) return void t.pass('apache2, mod_wsgi or htpasswd not installed');
      if (setupError) throw setupError;
      const { diffs, apache } = await matrix(pairs[mode]!, url);
      if (diffs.length) t.log(diffs.join('\n'));
      t.deepEqual(diffs, [], `${mode} ${url}: mod_wsgi and pyhost differ`);
      // What Apache says, for a few well-known answers (a shared mistake would pass the comparison).
      const a = (label: string) => apache.get(label);
      if (url === '/files/dm.txt') t.regex(a('GET /files/dm.txt from 127.0.0.1, no credentials')!, /^403/);
      if (url === '/files/hello.txt') t.regex(a('GET /files/hello.txt from 127.0.0.1, no credentials')!, /^200/);
      if (url === '/app/admin') t.regex(a('GET /app/admin from 127.0.0.1, no credentials')!, /^403/);
      if (url === '/app/basic') {
        t.is(a('GET /app/basic from 127.0.0.1, no credentials'), '401 WWW-Authenticate: Basic realm="Secret Zone"');
        for (const u of USERS) {
          t.is(a(`GET /app/basic from 127.0.0.1, ${u.user} (${u.flag})`), `200 app=env REMOTE_USER="${u.user}" AUTH_TYPE="Basic"`);
        }
        t.regex(a('GET /app/basic from 127.0.0.1, alice, wrong password')!, /^401 /);
      }
      if (url === '/app/ip') t.regex(a('GET /app/ip from 127.0.0.2, no credentials')!, /^403/);
      if (url === '/secret/key.txt') t.regex(a('GET /secret/key.txt from 127.0.0.1, alice (-B)')!, /^403/);
      if (url === '/app/group') t.regex(a('GET /app/group from 127.0.0.1, carol (-s)')!, /^401 WWW-Authenticate: Basic realm="group \\"admins\\""/);
    });
  }
}
