/**
 * Daemon processes as another user (issue 4): a daemon running as `nobody` cannot read a file
 * only root can read while a root daemon (and the front) can; `group` gives the group's access;
 * the UNIX sockets admit only the front's user and the daemon's; and `user` is refused, with a
 * clear error, when the front does not run as root (checked from a Node process really running
 * as nobody, via runuser).
 */
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { APP, type DaemonSite, daemonSites, getJson, REPO_ROOT } from './helpers/daemon.js';
import { PY311, pythonMissing } from './helpers/pythons.js';
import { tempDir } from './helpers/wsgi-server.js';

// The daemons run Debian's Python: nobody cannot enter /root, where pyenv's Pythons live.
const PYTHON = PY311;

function idOf(kind: 'passwd' | 'group', name: string): number | undefined {
  try {
    return Number(execFileSync('getent', [kind, name], { encoding: 'utf8' }).split(':')[2]);
  } catch {
    return undefined;
  }
}

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const NOBODY = idOf('passwd', 'nobody');
const DAEMON_USER = idOf('passwd', 'daemon');
const DAEMON_GROUP = idOf('group', 'daemon');
const why =
  process.getuid?.() !== 0 ? 'the tests do not run as root' :
  NOBODY === undefined ? 'there is no user nobody' :
  !hasCommand('runuser') ? 'runuser is not installed' :
  pythonMissing(PYTHON);

const site = daemonSites(test);

/** A directory everyone may enter (mkdtemp makes 0700 ones). */
function openDir(prefix: string): string {
  const dir = tempDir(prefix);
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Runs `args` as `user` (runuser), from the repository root; never rejects. */
function runAs(user: string, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('runuser', ['-u', user, '--', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => (stderr += String(e)));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Tries to connect to a UNIX socket as `user`: 'CONNECTED' or the error code. */
async function connectAs(user: string, socketPath: string): Promise<string> {
  const js = `require('net').connect(${JSON.stringify(socketPath)}).on('connect', function () { console.log('CONNECTED'); this.destroy(); }).on('error', (e) => console.log(e.code))`;
  const r = await runAs(user, [process.execPath, '-e', js]);
  return r.stdout.trim() || `no output (${r.code}): ${r.stderr}`;
}

function socketOf(s: DaemonSite): string {
  const p = [...s.group.processes].find((x) => x.state === 'ready');
  if (!p) throw new Error(`no ready process: ${JSON.stringify(s.group.stats())}`);
  return p.spec.socketPath;
}

if (why) {
  test.skip(`daemon users: skipped, ${why}`, () => {});
} else {
  test('a daemon running as nobody cannot read a root-only file; a root daemon and the front can', async (t) => {
    const dir = openDir('pyhost-daemon-secret-');
    const secret = path.join(dir, 'secret.txt');
    fs.writeFileSync(secret, 'only root may read this');
    fs.chmodSync(secret, 0o600);
    t.is(fs.readFileSync(secret, 'utf8'), 'only root may read this'); // the front (root) can
    const asNobody = await site({ group: { processes: 1, threads: 2, user: 'nobody', python: PYTHON } });
    const asRoot = await site({ group: { processes: 1, threads: 2, python: PYTHON } });
    const n = await getJson(`${asNobody.url}/read?path=${encodeURIComponent(secret)}`, asNobody.logs);
    t.is(n.uid, NOBODY);
    t.false(n.ok);
    t.is(n.error, 'PermissionError');
    t.is(n.errno, 13);
    const r = await getJson(`${asRoot.url}/read?path=${encodeURIComponent(secret)}`, asRoot.logs);
    t.is(r.uid, 0);
    t.true(r.ok);
    t.is(r.data, 'only root may read this');
    // The nobody daemon is nobody through and through: uid and gid of the process itself.
    const info = await getJson(`${asNobody.url}/info`, asNobody.logs);
    const status = fs.readFileSync(`/proc/${info.pid}/status`, 'utf8');
    t.regex(status, new RegExp(`^Uid:\\s+${NOBODY}\\s+${NOBODY}\\s+${NOBODY}\\s+${NOBODY}$`, 'm'));
    t.is(info.gid, Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' })));
  });

  if (DAEMON_GROUP !== undefined) {
    test('group: a nobody daemon in group daemon reads a root:daemon 0640 file; without it, it cannot', async (t) => {
      const dir = openDir('pyhost-daemon-grp-');
      const file = path.join(dir, 'group-readable.txt');
      fs.writeFileSync(file, 'for group daemon');
      fs.chownSync(file, 0, DAEMON_GROUP);
      fs.chmodSync(file, 0o640);
      const withGroup = await site({ group: { processes: 1, threads: 1, user: 'nobody', group: 'daemon', python: PYTHON } });
      const without = await site({ group: { processes: 1, threads: 1, user: 'nobody', python: PYTHON } });
      const a = await getJson(`${withGroup.url}/read?path=${encodeURIComponent(file)}`, withGroup.logs);
      t.true(a.ok, JSON.stringify(a));
      t.is(a.data, 'for group daemon');
      const ia = await getJson(`${withGroup.url}/info`, withGroup.logs);
      t.is(ia.gid, DAEMON_GROUP);
      const b = await getJson(`${without.url}/read?path=${encodeURIComponent(file)}`, without.logs);
      t.false(b.ok);
      t.is(b.error, 'PermissionError');
    });
  }

  test('the daemon sockets admit only the front\'s user and the daemon\'s user', async (t) => {
    const asNobody = await site({ group: { processes: 1, threads: 1, user: 'nobody', python: PYTHON } });
    const asRoot = await site({ group: { processes: 1, threads: 1, python: PYTHON } });
    const nobodySock = socketOf(asNobody);
    const rootSock = socketOf(asRoot);
    const st = fs.statSync(nobodySock);
    t.true(st.isSocket());
    t.is(st.uid, NOBODY!);
    t.is(st.mode & 0o077, 0, `mode ${(st.mode & 0o777).toString(8)}`);
    t.is(fs.statSync(rootSock).mode & 0o077, 0);
    // nobody may connect to its own daemon, root to both; a third user to neither.
    t.is(await connectAs('nobody', nobodySock), 'CONNECTED');
    t.is(await connectAs('nobody', rootSock), 'EACCES');
    if (DAEMON_USER !== undefined) {
      t.is(await connectAs('daemon', nobodySock), 'EACCES');
      t.is(await connectAs('daemon', rootSock), 'EACCES');
    }
    t.is(await connectAs('root', nobodySock), 'CONNECTED');
  });

  test('user is refused with a clear error when the front does not run as root (a front running as nobody)', async (t) => {
    const dir = openDir('pyhost-daemon-asnobody-');
    const script = path.join(dir, 'front.mts');
    fs.writeFileSync(
      script,
      `import { Engine } from ${JSON.stringify(path.join(REPO_ROOT, 'ts', 'index.ts'))};
const engine = await Engine.start({ restrictEmbedded: true, logger: () => {} });
const out: Record<string, unknown> = { uid: process.getuid!() };
for (const [key, opts] of [['root', { user: 'root' }], ['uid0', { user: 0 }], ['group', { group: 'root' }]] as const) {
  try {
    engine.daemonGroup('g-' + key, { ...opts, python: ${JSON.stringify(PYTHON)} } as any);
    out[key] = 'accepted';
  } catch (e: any) {
    out[key] = { name: e.name, code: e.code, message: e.message };
  }
}
console.log(JSON.stringify(out));
await engine.close();
`,
    );
    fs.chmodSync(script, 0o644);
    const r = await runAs('nobody', [process.execPath, '--import', 'tsx', script]);
    t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    t.is(out.uid, NOBODY);
    for (const key of ['root', 'uid0', 'group']) {
      t.is(out[key].code, 'ERR_DAEMON_USER', JSON.stringify(out[key]));
      t.is(out[key].name, 'PyhostError');
      t.regex(out[key].message, /needs the server to run as root/);
      t.true(out[key].message.includes(`uid ${NOBODY}`), out[key].message);
    }
    t.regex(out.root.message, /user root/);

    // The CLI says so too, and exits non-zero without serving.
    const cli = await runAs('nobody', [
      process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'ts', 'cli.ts'), 'start-server', APP,
      '--processes', '1', '--user', 'root', '--python', PYTHON, '--host', '127.0.0.1', '--port', '0',
    ]);
    t.not(cli.code, 0, `${cli.stdout}\n${cli.stderr}`);
    t.regex(cli.stderr, /pyhost start-server: .*needs the server to run as root/);
    t.notRegex(cli.stdout, /serving/);
  });
}
