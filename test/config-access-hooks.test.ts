/**
 * mod_wsgi's auth hooks: WSGIAccessScript (allow_access), WSGIAuthUserScript (check_password,
 * as `AuthBasicProvider wsgi`, alone and after `file`), WSGIAuthGroupScript (groups_for_user, as
 * `Require wsgi-group`), with application-group=, WSGIGroupAuthoritative and Satisfy Any.
 *
 * Differential (test/fixtures/config-serve/hooks.conf): Apache + mod_wsgi and pyhost, with the
 * application embedded and in a daemon process group (the hooks run in the serving process in
 * both, as mod_wsgi runs them): same status, WWW-Authenticate and REMOTE_USER / AUTH_TYPE for
 * every client, credentials and hook answer (True, False, None, a new user name, an exception,
 * a wrong type); and the hooks are given the same environ values and arguments (each call
 * records them in a file).
 *
 * pyhost only: `process-group=` runs a hook in a daemon process group (pyhost's extension:
 * mod_wsgi 4.9 refuses the option), in the application group it names; a hook script is
 * reloaded when it changes.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { apacheAvailable } from './helpers/apache.js';
import { basic, htpasswdAvailable, startPair, writeUserFiles, type AccessPair } from './helpers/access-fixtures.js';
import { FIXTURES, copyApps, freePorts, send, startPyhost, worldTempDir, writeFile, type Exchange, type PyhostServer, type Reply } from './helpers/config-serve.js';

type Mode = 'embedded' | 'daemon';
const available = apacheAvailable() && htpasswdAvailable();
const pairs: Partial<Record<Mode, AccessPair>> = {};
let records = '';
let setupError: Error | undefined;
let daemonHooks: { server: PyhostServer; port: number; hooks: string; records: string } | undefined;

/** Copies the hook script to `dir`, recording into `recordDir` (world-writable: Apache's children run as www-data). */
function copyHooks(dir: string, recordDir: string): string {
  fs.mkdirSync(recordDir, { recursive: true, mode: 0o777 });
  fs.chmodSync(recordDir, 0o777);
  const text = fs.readFileSync(path.join(FIXTURES, 'hooks', 'hooks.py'), 'utf8').replace('@RECORD_DIR@', recordDir);
  writeFile(dir, 'hooks.py', text);
  return dir;
}

test.before(async () => {
  if (!available) return;
  const dir = worldTempDir('pyhost-hooks-');
  const apps = copyApps(path.join(dir, 'apps'));
  records = path.join(dir, 'records');
  const hooks = copyHooks(path.join(dir, 'hooks'), records);
  const { users } = writeUserFiles(dir);
  const site = [`Define APPS ${apps}`, `Define HOOKS ${hooks}`, `Define USERS ${users}`, `Include ${path.join(FIXTURES, 'hooks.conf')}`].join('\n');
  // pyhost only: hooks in a daemon process group.
  const dRecords = path.join(dir, 'daemon-records');
  const dHooks = copyHooks(path.join(dir, 'daemon-hooks'), dRecords);
  const [port] = await freePorts(1);
  const daemonConf = writeFile(dir, 'daemon-hooks.conf', [
    `Listen 127.0.0.1:${port}`, 'ServerName 127.0.0.1', 'WSGIDaemonProcess hookd processes=1 threads=2',
    `WSGIScriptAlias /app ${apps}/env.wsgi`,
    '<Location /app/daemon>', `    WSGIAccessScript ${dHooks}/hooks.py process-group=hookd application-group=auth`, '</Location>',
    '<Location /app/daemon-user>', '    AuthType Basic', '    AuthName d', '    AuthBasicProvider wsgi',
    `    WSGIAuthUserScript ${dHooks}/hooks.py process-group=hookd`, `    WSGIAuthGroupScript ${dHooks}/hooks.py process-group=hookd`,
    '    Require wsgi-group admins', '</Location>',
  ].join('\n'));
  const results = await Promise.allSettled([
    ...(['embedded', 'daemon'] as const).map(async (mode) => {
      pairs[mode] = await startPair(dir, `hooks-${mode}`, site, mode === 'daemon' ? ['DAEMON'] : []);
    }),
    (async () => {
      daemonHooks = { server: await startPyhost({ config: daemonConf, ports: [port!] }), port: port!, hooks: dHooks, records: dRecords };
    })(),
  ]);
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) setupError = failed.reason as Error;
});

test.after.always(async () => {
  await Promise.all([...Object.values(pairs).flatMap((p) => [p.apache.stop(), p.pyhost.stop()]), daemonHooks?.server.stop()]);
});

function seen(r: Reply): string {
  let user = '';
  if (r.header('x-env-app') === 'env') {
    const j = JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
    user = ` REMOTE_USER=${JSON.stringify(j.REMOTE_USER)} AUTH_TYPE=${JSON.stringify(j.AUTH_TYPE)}`;
  }
  const auth = r.header('www-authenticate');
  return `${r.status}${auth ? ` WWW-Authenticate: ${auth}` : ''}${user}`;
}

const CREDENTIALS: Array<[string, [string, string][]]> = [
  ['none', []], ['alice (hook)', [basic('alice', 'pw-alice')]], ['alice (file)', [basic('alice', 'secret')]], ['bob (hook)', [basic('bob', 'pw-bob')]],
  ['bob wrong', [basic('bob', 'nope')]], ['alias -> renamed', [basic('alias', 'pw')]], ['hook raises', [basic('boom', 'x')]],
  ['unknown', [basic('nobody', 'x')]], ['carol (file)', [basic('carol', 'pw-carol')]],
];
const DECISIONS = ['', 'none', 'raise', 'bad'];
const URLS = ['/app/access', '/app/access-group', '/app/user', '/app/chain', '/app/group', '/app/group-file-users', '/app/satisfy-any'];

for (const mode of ['embedded', 'daemon'] as const) {
  for (const url of URLS) {
    test(`${mode}: ${url}: the same answers as Apache + mod_wsgi for every client, user and hook answer`, async (t) => {
      if (!available) return void t.pass('apache2, mod_wsgi or htpasswd not installed');
      if (setupError) throw setupError;
      const pair = pairs[mode]!;
      const diffs: string[] = [];
      const jobs: Promise<void>[] = [];
      for (const from of ['127.0.0.1', '127.0.0.2']) {
        for (const [who, creds] of CREDENTIALS) {
          for (const decide of url.includes('access') || url.includes('satisfy') ? DECISIONS : ['']) {
            const ex: Exchange = { target: `${url}/x?q=1`, from, headers: [...creds, ...(decide ? [['X-Decide', decide] as [string, string]] : [])] };
            jobs.push((async () => {
              const [a, p] = await Promise.all([send(pair.apache.port, ex), send(pair.pyhostPort, ex)]);
              if (seen(a) !== seen(p)) diffs.push(`${url} from ${from} as ${who}${decide ? `, hook says ${decide}` : ''}: mod_wsgi ${seen(a)} | pyhost ${seen(p)}`);
            })());
          }
        }
      }
      await Promise.all(jobs);
      if (diffs.length) t.log(diffs.sort().join('\n'));
      t.deepEqual(diffs, []);
    });
  }
}

test('the hooks get the same environ values and arguments from Apache + mod_wsgi and from pyhost', async (t) => {
  if (!available) return void t.pass('apache2, mod_wsgi or htpasswd not installed');
  if (setupError) throw setupError;
  const pair = pairs.embedded!;
  const calls: Array<[string, [string, string][]]> = [
    ['/app/access-group/x/y?q=1', []],
    ['/app/group/z?a=b', [basic('alice', 'pw-alice')]],
  ];
  for (const [i, [target, creds]] of calls.entries()) {
    for (const [server, port] of [['apache', pair.apache.port], ['pyhost', pair.pyhostPort]] as const) {
      const r = await send(port, { target, from: '127.0.0.1', headers: [...creds, ['X-Tag', `${server}${i}`]] });
      t.is(r.status, 200, `${server} ${target}`);
    }
  }
  const read = (name: string) => {
    const j = JSON.parse(fs.readFileSync(path.join(records, name), 'utf8')) as Record<string, unknown>;
    delete j.HTTP_X_TAG;
    delete j.SERVER_PORT;
    delete j.pid;
    return j;
  };
  for (const name of ['0-allow_access', '1-check_password', '1-groups_for_user']) {
    const a = read(`apache${name}.json`);
    const p = read(`pyhost${name}.json`);
    t.deepEqual(p, a, `${name}: pyhost gives the hook what mod_wsgi gives it`);
  }
  // What mod_wsgi is known to pass (a shared mistake would pass the comparison).
  const access = read('apache0-allow_access.json');
  t.like(access, { 'has HTTP_AUTHORIZATION': false, 'has wsgi.input': false, 'mod_wsgi.application_group': 'hook-group', args: { host: '127.0.0.1' } });
  t.like(read('apache1-check_password.json'), { args: { user: 'alice', password: 'pw-alice' }, 'mod_wsgi.application_group': '' });
});

test.serial('pyhost: process-group= runs the hooks in that daemon process group, in the application group named', async (t) => {
  if (!available) return void t.pass('apache2, mod_wsgi or htpasswd not installed');
  if (setupError) throw setupError;
  const d = daemonHooks!;
  const a = await send(d.port, { target: '/app/daemon', headers: [['X-Tag', 'd']] });
  t.is(a.status, 200);
  const b = await send(d.port, { target: '/app/daemon', from: '127.0.0.2' });
  t.is(b.status, 403, 'allow_access said False: 403');
  const rec = JSON.parse(fs.readFileSync(path.join(d.records, 'd-allow_access.json'), 'utf8')) as Record<string, unknown>;
  t.is(rec['mod_wsgi.process_group'], 'hookd');
  t.is(rec['mod_wsgi.application_group'], 'auth');
  t.true(d.server.daemonPids().includes(rec.pid as number), 'the hook ran in a pyhost-daemon process, not in the front');
  const u = await send(d.port, { target: '/app/daemon-user', headers: [basic('alice', 'pw-alice'), ['X-Tag', 'du']] });
  t.is(u.status, 200);
  t.is((JSON.parse(u.body.toString()) as Record<string, unknown>).REMOTE_USER, 'alice');
  t.is((await send(d.port, { target: '/app/daemon-user', headers: [basic('bob', 'pw-bob')] })).status, 401, 'bob is not in admins');
  const g = JSON.parse(fs.readFileSync(path.join(d.records, 'du-groups_for_user.json'), 'utf8')) as Record<string, unknown>;
  t.is(g['mod_wsgi.process_group'], 'hookd');
  t.is(g['mod_wsgi.application_group'], '', 'default application group: %{GLOBAL}');
});

test.serial('pyhost: a hook script that changes is reloaded at the next call', async (t) => {
  if (!available) return void t.pass('apache2, mod_wsgi or htpasswd not installed');
  if (setupError) throw setupError;
  const d = daemonHooks!;
  const file = path.join(d.hooks, 'hooks.py');
  const before = fs.readFileSync(file, 'utf8');
  t.is((await send(d.port, { target: '/app/daemon', from: '127.0.0.2' })).status, 403);
  fs.writeFileSync(file, before.replace("return host == '127.0.0.1'", 'return True'));
  const later = new Date(Date.now() + 2000);
  fs.utimesSync(file, later, later);
  try {
    t.is((await send(d.port, { target: '/app/daemon', from: '127.0.0.2' })).status, 200, 'the new allow_access ran');
  } finally {
    fs.writeFileSync(file, before);
  }
});
