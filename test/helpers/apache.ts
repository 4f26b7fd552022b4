/**
 * Start private Apache + mod_wsgi instances for tests and benchmarks.
 *
 * Each instance gets its own temp ServerRoot (config, logs, pid file, mutexes, daemon sockets),
 * listens on 127.0.0.1 only, runs in the foreground (`apache2 -DFOREGROUND -f <conf>`) in its own
 * process group, and never touches the system Apache (/etc/apache2, systemd).
 *
 * When run as root, Apache children and mod_wsgi daemon processes run as `www-data` (or `nobody`),
 * so the temp dir is made world-readable; the files of the WSGI apps you mount must be readable by
 * that user too (and the directories leading to them traversable).
 *
 * What the generated httpd.conf contains besides `site` (see `<dir>/httpd.conf`):
 * - `ServerName 127.0.0.1` (no port), so the default mod_wsgi application group of a mount outside
 *   any <VirtualHost> is `127.0.0.1:<port>|<mount>` (`:<port>` comes from the Host header).
 * - mpm_event (or worker), authz_core, authz_host, mime, alias, dir, env, setenvif, headers, wsgi.
 * - `LogLevel info` (mod_wsgi logs process/interpreter lifecycle at info), combined access log.
 * - `WSGISocketPrefix <dir>/run/wsgi`, `DocumentRoot <dir>/htdocs` (empty: unmapped URLs 404).
 * - `directives` after these defaults (so e.g. `LogLevel` or `Timeout` there win), then `site`.
 * - No `<Directory>` access rules: everything is granted unless `site` says otherwise.
 *
 * Stopping: SIGTERM, then SIGKILL to the whole process group after 5 s. Note that with mod_wsgi
 * 4.9 + Python 3.11, an embedded child that has run a request in a sub-interpreter does not exit on
 * SIGTERM (Python finalization blocks), so stop() of such an instance takes ~5 s.
 *
 * Environment knobs: PYHOST_APACHE_BIN (default: apache2 on PATH or /usr/sbin/apache2),
 * PYHOST_APACHE_MODULES (default: /usr/lib/apache2/modules), PYHOST_APACHE_KEEP=1 (keep temp dirs
 * after the process exits, for debugging).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface ApacheOptions {
  /** Apache config lines for the site: WSGIScriptAlias, WSGIDaemonProcess, <VirtualHost>, Alias ... The helper adds everything else (modules, Listen, logs, pid, mpm). */
  site: string;
  /** Ports to Listen on (127.0.0.1). The first one is `port`/`url` of the result. Default: one free port chosen by the helper. */
  ports?: number[];
  /** MPM: 'event' (default) or 'worker'. */
  mpm?: 'event' | 'worker';
  /** Tuning for benchmarks, e.g. { StartServers: 2, ThreadsPerChild: 25, MaxRequestWorkers: 50 } written as directives. */
  directives?: Record<string, string | number>;
  /** Extra -D defines passed to apache2. */
  defines?: string[];
  /** Milliseconds to wait for the port to answer. Default 15000. */
  startTimeoutMs?: number;
  /**
   * More modules to load, as `[identifier, file]` (e.g. `['auth_basic_module', 'mod_auth_basic.so']`),
   * after the default ones; one already loaded by default is not loaded twice.
   */
  modules?: Array<[string, string]>;
  /** Write the combined access log (default true); the bench turns it off, as no other peer logs requests. */
  accessLog?: boolean;
}

export interface ApacheServer {
  url: string; // http://127.0.0.1:PORT
  port: number;
  ports: number[];
  dir: string; // its temp ServerRoot (config, logs)
  pid: number;
  errorLog(): string; // contents of its error log so far
  accessLog(): string;
  stop(): Promise<void>; // graceful stop, kills after 5 s, removes nothing the caller needs (keep dir until process exit)
}

const MODULES_DIR = process.env.PYHOST_APACHE_MODULES ?? '/usr/lib/apache2/modules';
const STOP_KILL_AFTER_MS = 5000;

/** Modules loaded in every instance (besides the MPM). Missing optional ones are skipped. */
const REQUIRED_MODULES: Array<[string, string]> = [
  ['authz_core_module', 'mod_authz_core.so'],
  ['mime_module', 'mod_mime.so'],
  ['alias_module', 'mod_alias.so'],
];
const OPTIONAL_MODULES: Array<[string, string]> = [
  ['authz_host_module', 'mod_authz_host.so'],
  ['dir_module', 'mod_dir.so'],
  ['env_module', 'mod_env.so'],
  ['setenvif_module', 'mod_setenvif.so'],
  ['headers_module', 'mod_headers.so'],
];

function findApacheBinary(): string | undefined {
  const explicit = process.env.PYHOST_APACHE_BIN;
  if (explicit) return isExecutable(explicit) ? explicit : undefined;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/sbin', '/usr/local/sbin', '/sbin']);
  for (const d of dirs) {
    if (!d) continue;
    const candidate = path.join(d, 'apache2');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** True when an apache2 binary and mod_wsgi.so are present. */
export function apacheAvailable(): boolean {
  return findApacheBinary() !== undefined && fs.existsSync(path.join(MODULES_DIR, 'mod_wsgi.so'));
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: could not read the bound address'));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

// ---- process-exit cleanup: kill leftovers, remove temp dirs -----------------------------------

const liveGroups = new Set<number>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function killLiveGroups(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveGroups.clear();
}

function removeTempDirs(): void {
  if (process.env.PYHOST_APACHE_KEEP === '1') return;
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  tempDirs.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    killLiveGroups();
    removeTempDirs();
  });
  // A test runner that times out sends a signal: 'exit' does not run then, so kill Apache here too.
  // Only when nobody else handles the signal; we then restore the default action and re-raise it.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    if (process.listenerCount(sig) > 0) continue;
    const onSignal = (): void => {
      killLiveGroups();
      removeTempDirs();
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// ---- helpers ----------------------------------------------------------------------------------

function runAsUser(): { user: string; group: string } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  for (const name of ['www-data', 'nobody']) {
    try {
      const line = fs
        .readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith(name + ':'));
      if (!line) continue;
      const gid = line.split(':')[3];
      const groupLine = fs
        .readFileSync('/etc/group', 'utf8')
        .split('\n')
        .find((l) => l.split(':')[2] === gid);
      return { user: name, group: groupLine ? groupLine.split(':')[0]! : `#${gid}` };
    } catch {
      /* try next */
    }
  }
  return { user: 'nobody', group: 'nogroup' };
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tail(text: string, lines = 30): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** Pids of live (non-zombie) processes in process group `pgid`, from /proc; falls back to kill(-pgid, 0). */
function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM' ? [pgid] : [];
    }
  }
  const pids: number[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ... ; comm may contain spaces and parentheses
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    const pgrp = Number(rest[2]);
    if (pgrp === pgid && state !== 'Z' && state !== 'X') pids.push(Number(name));
  }
  return pids;
}

function groupAlive(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

function canConnect(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function buildConfig(dir: string, opts: ApacheOptions, ports: number[]): string {
  const mpm = opts.mpm ?? 'event';
  const runAs = runAsUser();
  const mod = (name: string, file: string) => `LoadModule ${name} ${path.join(MODULES_DIR, file)}`;
  const lines: string[] = [
    '# Generated by test/helpers/apache.ts',
    `ServerRoot "${dir}"`,
    `DefaultRuntimeDir "${dir}/run"`,
    `PidFile "${dir}/run/httpd.pid"`,
    `Mutex file:${dir}/run default`,
    `ErrorLog "${dir}/logs/error.log"`,
    'LogLevel info',
    'ServerName 127.0.0.1',
    `DocumentRoot "${dir}/htdocs"`,
    '',
    mod(`mpm_${mpm}_module`, `mod_mpm_${mpm}.so`),
    ...REQUIRED_MODULES.map(([n, f]) => mod(n, f)),
    ...OPTIONAL_MODULES.filter(([, f]) => fs.existsSync(path.join(MODULES_DIR, f))).map(([n, f]) => mod(n, f)),
    mod('wsgi_module', 'mod_wsgi.so'),
    ...(opts.modules ?? []).filter(([n]) => ![...REQUIRED_MODULES, ...OPTIONAL_MODULES].some(([d]) => d === n)).map(([n, f]) => mod(n, f)),
    '',
  ];
  if (runAs) lines.push(`User ${runAs.user}`, `Group ${runAs.group}`, '');
  lines.push(
    ...ports.map((p) => `Listen 127.0.0.1:${p}`),
    '',
    fs.existsSync('/etc/mime.types') ? 'TypesConfig /etc/mime.types' : '# no /etc/mime.types',
    `LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined`,
    opts.accessLog === false ? '# no access log' : `CustomLog "${dir}/logs/access.log" combined`,
    `WSGISocketPrefix "${dir}/run/wsgi"`,
    '',
  );
  const directives = opts.directives ?? {};
  if (Object.keys(directives).length > 0) {
    lines.push('# directives');
    for (const [k, v] of Object.entries(directives)) lines.push(`${k} ${v}`);
    lines.push('');
  }
  lines.push('# site', opts.site, '');
  return lines.join('\n');
}

/**
 * Start a private Apache + mod_wsgi. Resolves once every port accepts connections and the pid file
 * names our process; rejects with the tail of the error log when Apache exits or does not answer.
 */
export async function startApache(opts: ApacheOptions): Promise<ApacheServer> {
  const bin = findApacheBinary();
  if (!bin) throw new Error('startApache: no apache2 binary found (apt-get install -y apache2)');
  if (!fs.existsSync(path.join(MODULES_DIR, 'mod_wsgi.so'))) {
    throw new Error(`startApache: ${MODULES_DIR}/mod_wsgi.so missing (apt-get install -y libapache2-mod-wsgi-py3)`);
  }
  const ports = opts.ports && opts.ports.length > 0 ? [...opts.ports] : [await freePort()];
  const port = ports[0]!;
  const startTimeoutMs = opts.startTimeoutMs ?? 15000;

  installExitHook();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-apache-'));
  tempDirs.add(dir);
  for (const sub of ['logs', 'run', 'htdocs']) fs.mkdirSync(path.join(dir, sub));
  // Apache children and mod_wsgi daemons run as www-data/nobody when we are root: let them in.
  for (const d of [dir, path.join(dir, 'logs'), path.join(dir, 'run'), path.join(dir, 'htdocs')]) fs.chmodSync(d, 0o755);

  const confPath = path.join(dir, 'httpd.conf');
  fs.writeFileSync(confPath, buildConfig(dir, opts, ports), { mode: 0o644 });
  const errorLogPath = path.join(dir, 'logs', 'error.log');
  const accessLogPath = path.join(dir, 'logs', 'access.log');
  const pidPath = path.join(dir, 'run', 'httpd.pid');

  const args = ['-DFOREGROUND', '-f', confPath, ...(opts.defines ?? []).map((d) => `-D${d}`)];
  const child: ChildProcess = spawn(bin, args, {
    cwd: dir,
    detached: true, // own process group: stop() can reach every child and mod_wsgi daemon
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LANG: process.env.LANG ?? 'C.UTF-8' },
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  fs.writeFileSync(path.join(dir, 'cmdline'), [bin, ...args].join(' ') + '\n');

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  let spawnErr: Error | undefined;
  void spawnError.then((e) => (spawnErr = e));

  const pid = child.pid;
  if (pid === undefined) {
    const e = await Promise.race([spawnError, sleep(1000).then(() => new Error('unknown'))]);
    throw new Error(`startApache: could not spawn ${bin}: ${e.message}`);
  }
  liveGroups.add(pid);

  const outputClosed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const describeFailure = async (why: string): Promise<Error> => {
    await Promise.race([outputClosed, sleep(500)]);
    const log = tail(readIfExists(errorLogPath));
    return new Error(
      `startApache: ${why}\n` +
        `  command: ${[bin, ...args].join(' ')}\n` +
        `  dir: ${dir}\n` +
        (output.trim() ? `  apache2 output:\n${tail(output)}\n` : '') +
        (log ? `  error log tail (${errorLogPath}):\n${log}\n` : '  error log: (empty)\n'),
    );
  };

  const killGroup = async (): Promise<void> => {
    if (groupAlive(pid)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await Promise.race([exitPromise, sleep(2000)]);
    const until = Date.now() + 2000;
    while (groupAlive(pid) && Date.now() < until) await sleep(25);
    liveGroups.delete(pid);
  };

  // Wait for: pid file naming our process (written after the listeners are bound) + every port connectable.
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (spawnErr) {
      await killGroup();
      throw await describeFailure(`failed to spawn apache2: ${spawnErr.message}`);
    }
    if (exited) {
      await killGroup();
      throw await describeFailure(`apache2 exited during startup (code ${exited.code}, signal ${exited.signal})`);
    }
    const pidFile = readIfExists(pidPath).trim();
    if (pidFile === String(pid)) {
      const oks = await Promise.all(ports.map((p) => canConnect(p)));
      if (oks.every(Boolean) && !exited) break;
    }
    if (Date.now() > deadline) {
      await killGroup();
      throw await describeFailure(`no answer on 127.0.0.1:${ports.join(',')} within ${startTimeoutMs} ms`);
    }
    await sleep(50);
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        try {
          process.kill(pid, 'SIGTERM'); // apache2 "stop": children and mod_wsgi daemons shut down
        } catch {
          /* gone */
        }
        await Promise.race([exitPromise, sleep(STOP_KILL_AFTER_MS)]);
      }
      // Kill anything left in the process group (parent stuck, or orphaned children/daemons).
      if (groupAlive(pid)) {
        const until = Date.now() + 1000;
        while (groupAlive(pid) && Date.now() < until) await sleep(50);
      }
      if (groupAlive(pid) || !exited) await killGroup();
      liveGroups.delete(pid);
    })();
    return stopping;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    ports,
    dir,
    pid,
    errorLog: () => readIfExists(errorLogPath),
    accessLog: () => readIfExists(accessLogPath),
    stop,
  };
}

