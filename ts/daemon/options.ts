/**
 * Options of a daemon process group (WSGIDaemonProcess) and their resolution into what the
 * supervisor runs: which pyhost-daemon binary (the build for the group's Python), its
 * arguments, user, environment and timeouts.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PyhostError } from '../errors.js';
import { daemonEnvironment, daemonProgram } from '../native/daemon-program.js';
import { checkPythonHome, resolveBuild, venvVersion } from '../native/loader.js';
import { errorStatusArgs } from '../scheduler/index.js';
import { checkKnownKeys, enumOption, intOption, invalid, stringArrayOption, stringOption } from '../options.js';
import type { DaemonGroupSettings } from './daemon-group.js';

/** Options of {@link Engine.daemonGroup}. Times are in milliseconds (0: no limit). */
export interface DaemonGroupOptions {
  /** Processes (default 1). */
  processes?: number;
  /** Threads per process (default 15, as mod_wsgi). */
  threads?: number;
  /** Python executable of this group: any Python that has a pyhost build (default: the front's). */
  python?: string;
  /** A venv (python -m venv) or prefix for the group's Python. */
  pythonHome?: string;
  /** sys.path entries (site.addsitedir, first). */
  pythonPath?: string[];
  /** Working directory of the processes, also on sys.path. */
  home?: string;
  /** Run the processes as this user (name or uid); needs the front to run as root. */
  user?: string | number;
  /** ... and this group (name or gid; default: the user's group). */
  group?: string | number;
  /** Process title (argv[0]) of the processes. */
  displayName?: string;
  /** LANG of the processes. */
  lang?: string;
  /** LC_ALL of the processes. */
  locale?: string;
  /** Extra environment variables. */
  environment?: Record<string, string>;
  /** Recycle a process after this many requests (with up to 10% jitter). */
  maximumRequests?: number;
  /** Recycle a process after it has run this long. */
  restartInterval?: number;
  /** Recycle a process that served nothing for this long. */
  inactivityTimeout?: number;
  /** Recycle a process whose resident memory exceeds this many bytes. */
  memoryLimit?: number;
  /** A request running longer gets 504; its process is restarted and its stacks logged. */
  requestTimeout?: number;
  /** A process must be ready within this (default 30000). */
  startupTimeout?: number;
  /** A request waiting longer for a thread gets 503. */
  queueTimeout?: number;
  /** Requests in flight get this long when a process is recycled or stopped (default 15000). */
  gracefulTimeout?: number;
  /** A stopping process gets this long to finish and finalise before it is killed (default 5000). */
  shutdownTimeout?: number;
  /** A GIL not acquirable for this long restarts the process (default 300000; 0: off). */
  deadlockTimeout?: number;
  /** Python -O level. */
  optimize?: 0 | 1 | 2;
  /** %{GLOBAL} fallback for application groups inside the processes (default 'global'). */
  fallback?: 'global' | 'error';
  /** @internal The processes serve HTTP themselves (the native front, ts/front/daemon-front.ts). */
  nativeHttp?: DaemonNativeHttp;
}

/** @internal What daemon processes that serve HTTP themselves get from their supervisor. */
export interface DaemonNativeHttp {
  /** The listening socket (passed down as descriptor 3). */
  listenFd: number;
  /** Where access log lines go (passed down as descriptor 4), if anywhere. */
  accessLogFd?: number;
  /** The options file's text (csrc/http/text_options.h). */
  config: string;
}

const SECONDS_KEYS = [
  'restartInterval', 'inactivityTimeout', 'requestTimeout', 'startupTimeout', 'queueTimeout', 'gracefulTimeout',
  'shutdownTimeout', 'deadlockTimeout',
] as const;

/**
 * Daemon options as mod_wsgi writes them (WSGIDaemonProcess, and start-server's flags, its
 * mod_wsgi-express counterparts): times in seconds, `display-name=%{GROUP}` for `(wsgi:NAME)`.
 * The one translation both the config sites and the CLI use.
 */
export function fromModWsgiUnits(name: string, options: DaemonGroupOptions): DaemonGroupOptions {
  const out: DaemonGroupOptions = { ...options };
  for (const key of SECONDS_KEYS) {
    const seconds = options[key];
    if (seconds !== undefined) out[key] = Math.round(seconds * 1000);
  }
  if (options.displayName === '%{GROUP}') out.displayName = `(wsgi:${name})`;
  return out;
}

const KEYS = [
  'processes', 'threads', 'python', 'pythonHome', 'pythonPath', 'home', 'user', 'group', 'displayName', 'lang', 'locale',
  'environment', 'maximumRequests', 'restartInterval', 'inactivityTimeout', 'memoryLimit', 'requestTimeout',
  'startupTimeout', 'queueTimeout', 'gracefulTimeout', 'shutdownTimeout', 'deadlockTimeout', 'optimize', 'fallback', 'nativeHttp',
] as const;

const DAY = 86_400_000;

function resolveId(kind: 'user' | 'group', value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw invalid('daemonGroup', `${kind} must be a name or a non-negative id`);
    return value;
  }
  if (/^\d+$/.test(value)) return Number(value);
  try {
    const out = execFileSync('getent', [kind === 'user' ? 'passwd' : 'group', value], { encoding: 'utf8' });
    return Number(out.split(':')[2]);
  } catch {
    throw new PyhostError('ERR_DAEMON_USER', `daemonGroup: no such ${kind} '${value}'`);
  }
}

function primaryGid(uid: number): number | undefined {
  try {
    const out = execFileSync('getent', ['passwd', String(uid)], { encoding: 'utf8' });
    return Number(out.split(':')[3]);
  } catch {
    return undefined;
  }
}

export function resolveDaemonGroup(name: string, options: DaemonGroupOptions = {}, defaultPython?: string): DaemonGroupSettings {
  const what = `daemonGroup ${name}`;
  checkKnownKeys(what, options, KEYS);
  if (typeof name !== 'string' || !/^[^\s/]+$/.test(name)) throw invalid('daemonGroup', `invalid name ${JSON.stringify(name)}`);
  const o = options;
  const pythonHome = stringOption(what, 'pythonHome', o.pythonHome);
  let python = stringOption(what, 'python', o.python);
  const home = stringOption(what, 'home', o.home);
  if (!python && pythonHome && venvVersion(pythonHome) !== undefined) {
    python = ['python3', 'python'].map((n) => path.join(path.resolve(pythonHome), 'bin', n)).find((p) => fs.existsSync(p));
  }
  const build = resolveBuild(python ?? defaultPython);
  const binary = daemonProgram(build, what);
  const homeInfo = pythonHome ? checkPythonHome(path.resolve(pythonHome), build) : undefined;
  if (home && !fs.existsSync(home)) throw invalid(what, `home ${home} does not exist`);
  const threads = intOption(what, 'threads', o.threads, 15, 1, 1024);
  const processes = intOption(what, 'processes', o.processes, 1, 1, 256);
  const fallback = enumOption(what, 'fallback', o.fallback, ['global', 'error'] as const, 'global');
  const ms = (key: keyof DaemonGroupOptions, def: number) => intOption(what, key, o[key], def, 0, 30 * DAY);

  let uid: number | undefined;
  let gid: number | undefined;
  if (o.user !== undefined) uid = resolveId('user', o.user);
  if (o.group !== undefined) gid = resolveId('group', o.group);
  const myUid = process.getuid?.() ?? 0;
  if ((uid !== undefined && uid !== myUid) || (gid !== undefined && gid !== process.getgid?.())) {
    if (myUid !== 0) {
      throw new PyhostError(
        'ERR_DAEMON_USER',
        `${what}: running processes as user ${o.user ?? myUid}${o.group !== undefined ? ` group ${o.group}` : ''} needs the server to run as root (it runs as uid ${myUid})`,
      );
    }
  }
  if (uid !== undefined && gid === undefined) gid = primaryGid(uid);

  const deadlock = ms('deadlockTimeout', 300_000);
  const shutdown = ms('shutdownTimeout', 5000);
  const args = [
    '--name', name,
    '--threads', String(threads),
    '--program', homeInfo?.python ?? build.executable,
    '--optimize', String(intOption(what, 'optimize', o.optimize, 0, 0, 2)),
    '--fallback', fallback,
    '--deadlock-timeout', String(Math.ceil(deadlock / 1000)),
    ...errorStatusArgs(),
    '--shutdown-timeout', String(Math.max(1, Math.ceil(shutdown / 1000))),
  ];
  if (homeInfo && !homeInfo.venv) args.push('--home', path.resolve(pythonHome!));
  for (const p of stringArrayOption(what, 'pythonPath', o.pythonPath)) args.push('--path', path.resolve(p));
  if (home) args.push('--path', path.resolve(home));

  if (o.environment !== undefined && (typeof o.environment !== 'object' || o.environment === null ||
      Object.values(o.environment).some((v) => typeof v !== 'string'))) {
    throw invalid(what, 'environment must map names to strings');
  }
  const env: NodeJS.ProcessEnv = daemonEnvironment(build, { ...process.env, ...o.environment });
  delete env.PYHOST_RELOADER_CHILD;
  const lang = stringOption(what, 'lang', o.lang);
  const locale = stringOption(what, 'locale', o.locale);
  if (lang) env.LANG = lang;
  if (locale) env.LC_ALL = locale;

  return {
    name,
    processes,
    processesExplicit: o.processes !== undefined,
    threads,
    binary,
    args,
    env,
    cwd: home ? path.resolve(home) : undefined,
    uid,
    gid,
    displayName: stringOption(what, 'displayName', o.displayName) ?? `pyhost-daemon:${name}`,
    maximumRequests: intOption(what, 'maximumRequests', o.maximumRequests, 0, 0, Number.MAX_SAFE_INTEGER),
    restartInterval: ms('restartInterval', 0),
    inactivityTimeout: ms('inactivityTimeout', 0),
    memoryLimit: intOption(what, 'memoryLimit', o.memoryLimit, 0, 0, Number.MAX_SAFE_INTEGER),
    requestTimeout: ms('requestTimeout', 0),
    startupTimeout: ms('startupTimeout', 30_000) || 30_000,
    queueTimeout: ms('queueTimeout', 0),
    gracefulTimeout: ms('gracefulTimeout', 15_000),
    shutdownTimeout: shutdown,
    pythonVersion: build.version,
    nativeHttp: o.nativeHttp,
  };
}
