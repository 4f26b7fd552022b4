/**
 * Helpers for the daemon-mode tests (test/daemon-*.test.ts): a front (an Engine, by default with
 * restrictEmbedded) serving a mount of test/fixtures/daemon/app.wsgi in a daemon process group on
 * 127.0.0.1, a load generator that records every response, and waits for supervisor events.
 * Everything is real: pyhost-daemon processes, UNIX sockets, signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { DaemonGroup, DaemonGroupOptions, Engine, EngineOptions, MountOptions } from '../../ts/index.js';
import { request, type HttpResponse } from './http.js';
import { LogCapture, serve, sleep, startEngine, TEST_DIR, type TestServer } from './wsgi-server.js';

export const REPO_ROOT = path.resolve(TEST_DIR, '..');
export const DAEMON_FIXTURES = path.join(TEST_DIR, 'fixtures', 'daemon');
/** The daemon test application (see its header for the paths it serves). */
export const APP = path.join(DAEMON_FIXTURES, 'app.wsgi');

/** A generous bound for supervisor events (a daemon start, a restart) on a loaded machine. */
export const EVENT_TIMEOUT = 30_000;

export interface DaemonSite {
  engine: Engine;
  logs: LogCapture;
  group: DaemonGroup;
  server: TestServer;
  url: string;
  /** Closes the HTTP server and the engine (and with it the daemon processes). */
  close(): Promise<void>;
}

let serial = 0;

/**
 * Starts an Engine (restrictEmbedded unless `engine` says otherwise), one daemon group and a
 * mount of `script` (default APP) in it, served on 127.0.0.1. Resolves once the group is ready.
 */
export async function startDaemonSite(
  options: {
    group?: DaemonGroupOptions;
    mount?: Omit<MountOptions, 'processGroup'>;
    engine?: Omit<EngineOptions, 'logger'>;
    script?: string;
    name?: string;
  } = {},
): Promise<DaemonSite> {
  const { engine, logs } = await startEngine({ restrictEmbedded: true, ...options.engine });
  const name = options.name ?? `dg${process.pid}-${++serial}`;
  let group: DaemonGroup;
  try {
    group = engine.daemonGroup(name, options.group ?? {});
    await group.start();
  } catch (err) {
    await engine.close();
    throw new Error(`daemon group ${name} did not start: ${(err as Error).message}\nlog:\n${logs.text()}`);
  }
  const handler = engine.mount(options.script ?? APP, { ...options.mount, processGroup: name });
  const server = await serve(handler);
  return {
    engine,
    logs,
    group,
    server,
    url: server.url,
    close: async () => {
      await server.close();
      await engine.close();
    },
  };
}

/**
 * `startDaemonSite` for one test file: every site it starts is closed after the file's tests
 * (`test.after.always`), whatever they did.
 */
export function daemonSites(test: { after: { always(fn: () => Promise<void>): void } }): typeof startDaemonSite {
  const sites: DaemonSite[] = [];
  test.after.always(async () => {
    await Promise.all(sites.map((s) => s.close()));
  });
  return async (...args) => {
    const s = await startDaemonSite(...args);
    sites.push(s);
    return s;
  };
}

/** GET a JSON document; throws (with the log) unless the answer is a complete 200. */
export async function getJson<T = any>(url: string, logs?: LogCapture, timeoutMs = 60_000): Promise<T> {
  const r = await request(url, { timeoutMs });
  if (r.status !== 200 || !r.complete) {
    throw new Error(`${url}: ${r.status} (complete: ${r.complete}) ${r.text().slice(0, 500)}${logs ? `\nlog:\n${logs.text()}` : ''}`);
  }
  return r.json<T>();
}

/** A request's outcome: the response, or the error of a cut connection. */
export interface Outcome {
  path: string;
  status: number;
  body: string;
  error?: string;
  complete: boolean;
}

/** One request that never rejects: a cut connection is status 0 with `error`. */
export async function attempt(url: string, path: string, options: Parameters<typeof request>[1] = {}): Promise<Outcome> {
  try {
    const r: HttpResponse = await request(url + path, { timeoutMs: 60_000, ...options });
    return { path, status: r.status, body: r.text(), complete: r.complete, error: r.error?.message };
  } catch (err) {
    return { path, status: 0, body: '', complete: false, error: (err as Error).message };
  }
}

/** True for a failed request: anything but a complete 200. */
export function failed(o: Outcome): boolean {
  return o.status !== 200 || !o.complete || o.error !== undefined;
}

/**
 * Continuous load: `concurrency` clients each sending `path` (a fresh connection per request)
 * back to back, until stop() or, with `total`, until that many requests were sent. Records
 * every outcome and which daemon pid served each 200 (the app's /pid answer).
 */
export class Load {
  readonly outcomes: Outcome[] = [];
  readonly pids = new Map<number, number>();
  private stopped = false;
  private sent = 0;
  private readonly done: Promise<void>;

  constructor(
    private readonly url: string,
    concurrency: number,
    private readonly path = '/pid',
    private readonly total = Infinity,
  ) {
    this.done = Promise.all(Array.from({ length: concurrency }, () => this.client())).then(() => undefined);
  }

  private async client(): Promise<void> {
    while (!this.stopped && this.sent < this.total) {
      this.sent++;
      const o = await attempt(this.url, this.path);
      this.outcomes.push(o);
      if (!failed(o)) {
        try {
          const pid = (JSON.parse(o.body) as { pid: number }).pid;
          this.pids.set(pid, (this.pids.get(pid) ?? 0) + 1);
        } catch {
          /* not a /pid answer */
        }
      }
    }
  }

  get failures(): Outcome[] {
    return this.outcomes.filter(failed);
  }

  /** Resolves once `n` more requests have completed (or rejects after `timeoutMs`). */
  async completed(n: number, timeoutMs = EVENT_TIMEOUT): Promise<void> {
    const target = this.outcomes.length + n;
    await waitUntil(() => this.outcomes.length >= target, timeoutMs, `${n} more requests under load`);
  }

  /** Stops sending; resolves when every client has its last answer. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Resolves when `total` requests were answered. */
  finished(): Promise<void> {
    return this.done;
  }

  describe(): string {
    const f = this.failures;
    return `${this.outcomes.length} requests, ${f.length} failed` +
      (f.length ? `: ${f.slice(0, 5).map((o) => `${o.status} ${o.error ?? ''} ${o.body.slice(0, 80)}`).join(' | ')}` : '') +
      `; pids ${JSON.stringify([...this.pids])}`;
  }
}

/** Polls `pred` every 25 ms until it holds; rejects with `what` after `timeoutMs`. */
export async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Pids of the group's processes in state 'ready'. */
export function readyPids(group: DaemonGroup): number[] {
  return group.stats().processes.filter((p) => p.state === 'ready' && p.pid !== undefined).map((p) => p.pid!);
}

/** Waits until the group has `n` ready processes, none of them in `exclude`; returns their pids. */
export async function waitForReady(group: DaemonGroup, n: number, exclude: number[] = [], timeoutMs = EVENT_TIMEOUT): Promise<number[]> {
  let pids: number[] = [];
  await waitUntil(
    () => {
      pids = readyPids(group);
      return pids.length >= n && !pids.some((p) => exclude.includes(p));
    },
    timeoutMs,
    `${n} ready daemon processes other than ${JSON.stringify(exclude)} (now ${JSON.stringify(group.stats())})`,
  );
  return pids;
}

/** True while a process with this pid exists (and is not a zombie). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** `promise`, or a rejection naming `what` after `timeoutMs` (the timer does not outlive it). */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until no process has this pid. */
export function waitForExit(pid: number, timeoutMs = EVENT_TIMEOUT): Promise<void> {
  return waitUntil(() => !pidAlive(pid), timeoutMs, `process ${pid} to exit`);
}

/** The argv of a process from /proc/PID/cmdline. */
export function cmdline(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

/** The direct children of `pid` (from /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * SIGKILLs daemon processes and removes their socket directories (what a front that was itself
 * killed leaves behind).
 */
export function killDaemons(pids: number[]): void {
  for (const pid of pids) {
    let socketDir: string | undefined;
    try {
      const args = cmdline(pid);
      const i = args.indexOf('--socket');
      if (i > 0) socketDir = path.dirname(args[i + 1]);
    } catch {
      /* already gone */
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    if (socketDir && path.basename(socketDir).startsWith('pyhost-')) fs.rmSync(socketDir, { recursive: true, force: true });
  }
}

// ---- The CLI in a child process ----

export interface CliServer {
  child: ChildProcess;
  url: string;
  port: number;
  /** stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running, and any daemon processes it had (so none outlive a failed test). */
  kill(): void;
}

/**
 * Runs `pyhost start-server ARGS --host 127.0.0.1 --port 0` from the TypeScript source
 * (`node --import tsx ts/cli.ts`), or from `options.bin` (an installed `pyhost` command) in
 * `options.cwd`; resolves once it prints the URL it serves.
 */
export function startCli(
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; bin?: string; cwd?: string } = {},
): Promise<CliServer> {
  const entry = options.bin ? [options.bin] : ['--import', 'tsx', path.join(REPO_ROOT, 'ts', 'cli.ts')];
  // The native front is start-server's default; PYHOST_TEST_FRONT=node runs a suite on node:http.
  const front = process.env.PYHOST_TEST_FRONT === 'node' && !args.includes('--front') ? ['--front', 'node'] : [];
  const child = spawn(
    process.execPath,
    [...entry, 'start-server', ...args, ...front, '--host', '127.0.0.1', '--port', '0'],
    { cwd: options.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env },
  );
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (process.env.PYHOST_TEST_LOG) process.stderr.write(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) {
      const daemons = childPids(child.pid!);
      child.kill('SIGKILL');
      killDaemons(daemons);
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`pyhost start-server did not report its URL within ${options.timeoutMs ?? EVENT_TIMEOUT} ms\n${out}\n${err}`));
    }, options.timeoutMs ?? EVENT_TIMEOUT);
    const onData = () => {
      const m = /serving .* at http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const port = Number(m[1]);
      resolve({ child, url: `http://127.0.0.1:${port}`, port, stdout: () => out, stderr: () => err, exited, kill });
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`pyhost start-server exited (${code ?? signal}) before serving\n${out}\n${err}`));
    });
  });
}
