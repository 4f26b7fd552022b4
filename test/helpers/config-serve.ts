/**
 * Helpers for the end-to-end tests of mod_wsgi configuration files (test/config-serve*.test.ts,
 * test/config-differential.test.ts): world-readable temp dirs (Apache's daemons run as www-data),
 * venvs, the `pyhost` CLI run as a command (`check-config`) or as a server (`start-server
 * --config`, in its own process group so that stop() reaches its daemon processes), raw HTTP
 * requests (exact request targets such as `//x` or `/%C3%A9`, any Host header, HTTP/1.0) and
 * /proc inspection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './apache.js';
import { chunkedBody, parseResponse, rawRequest } from './http.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = path.join(REPO, 'test', 'fixtures', 'config-serve');
/** Debian's Python 3.11: python3-django, and the Python Debian's mod_wsgi is built for. */
export const DEBIAN_PYTHON = '/usr/bin/python3.11';
const CLI = path.join(REPO, 'ts', 'cli.ts');

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- cleanup at exit ---------------------------------------------------------------------------

const liveGroups = new Set<number>();
const tempDirs = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (process.env.PYHOST_TEST_KEEP === '1') return;
    for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  });
}

/** A temp dir every user can read and traverse (Apache's children run as www-data). Removed at exit. */
export function worldTempDir(prefix = 'pyhost-config-serve-'): string {
  hookExit();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  tempDirs.add(dir);
  return dir;
}

/** Copies `test/fixtures/config-serve/apps` into `dest` (world-readable); returns `dest`. */
export function copyApps(dest: string): string {
  fs.cpSync(path.join(FIXTURES, 'apps'), dest, { recursive: true });
  const walk = (p: string) => {
    const st = fs.statSync(p);
    fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(dest);
  return dest;
}

/**
 * Reads a fixture and replaces `@NAME@` placeholders (for values only known at run time: ports,
 * temp paths). Throws when a placeholder is left.
 */
export function template(fixture: string, values: Record<string, string | number>): string {
  let text = fs.readFileSync(path.join(FIXTURES, fixture), 'utf8');
  for (const [k, v] of Object.entries(values)) text = text.split(`@${k}@`).join(String(v));
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`template ${fixture}: no value for ${left[0]}`);
  return text;
}

/** Writes `text` to `dir/name` (world-readable) and returns the path. */
export function writeFile(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o644 });
  return file;
}

// ---- commands ----------------------------------------------------------------------------------

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`). */
export function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** `pyhost ARGS...` (the CLI from source, through tsx), run to completion. */
export function runPyhost(args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run(process.execPath, ['--import', 'tsx', CLI, ...args], { timeoutMs: opts.timeoutMs ?? 60_000 });
}

/** `python3.11 -m venv --system-site-packages DIR` with Debian's Python; returns DIR. */
export async function makeVenv(dir: string): Promise<string> {
  const r = await run(DEBIAN_PYTHON, ['-m', 'venv', '--system-site-packages', '--without-pip', dir], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`venv ${dir} failed (${r.code}): ${r.stderr}`);
  return dir;
}

// ---- pyhost start-server --config -----------------------------------------------------------

export interface PyhostServer {
  /** The pyhost front process (its process group holds the daemon processes too). */
  pid: number;
  /** `pyhost: serving ...` lines and the rest of stdout so far. */
  stdout(): string;
  /** The log (stderr) so far. */
  stderr(): string;
  /** Every live process of the server's process group but the front (daemon processes). */
  daemonPids(): number[];
  /** SIGTERM, wait for the exit (then SIGKILL the whole process group). */
  stop(): Promise<void>;
}

/** Pids of the live processes of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z' && rest[0] !== 'X') pids.push(Number(name));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

/** The shared objects a process has mapped (from /proc/PID/maps). */
export function mappedFiles(pid: number): string[] {
  const out = new Set<string>();
  for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const f = line.split(/\s+/)[5];
    if (f && f.startsWith('/')) out.add(f);
  }
  return [...out];
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Starts `pyhost start-server --config FILE --python PYTHON [--define D]...` and resolves once
 * every port in `ports` accepts connections and the CLI printed its `pyhost: serving` lines.
 * Rejects (with the log) when it exits first or does not answer within `timeoutMs`.
 */
export async function startPyhost(opts: {
  config: string;
  ports: number[];
  defines?: string[];
  python?: string;
  extraArgs?: string[];
  timeoutMs?: number;
}): Promise<PyhostServer> {
  hookExit();
  const args = ['--import', 'tsx', CLI, 'start-server', '--config', opts.config, '--python', opts.python ?? DEBIAN_PYTHON,
    ...(opts.defines ?? []).flatMap((d) => ['--define', d]), ...(opts.extraArgs ?? [])];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid!;
  liveGroups.add(pid);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.PYHOST_TEST_LOG) process.stderr.write(d);
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    resolve();
  }));
  const killGroup = async () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await Promise.race([exitPromise, sleep(3000)]);
    const until = Date.now() + 3000;
    while (groupMembers(pid).length && Date.now() < until) await sleep(50);
    liveGroups.delete(pid);
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  for (;;) {
    if (exited) {
      await killGroup();
      throw new Error(`pyhost start-server exited during start-up (code ${exited.code}, signal ${exited.signal})\n` +
        `  command: node ${args.join(' ')}\n  stdout:\n${stdout}\n  stderr:\n${stderr}`);
    }
    const serving = (stdout.match(/^pyhost: serving /gm) ?? []).length;
    if (serving >= 1) {
      const ok = await Promise.all(opts.ports.map(canConnect));
      if (ok.every(Boolean)) break;
    }
    if (Date.now() > deadline) {
      await killGroup();
      throw new Error(`pyhost start-server did not answer on ${opts.ports.join(',')} in time\n  stdout:\n${stdout}\n  stderr:\n${stderr}`);
    }
    await sleep(100);
  }
  let stopping: Promise<void> | undefined;
  return {
    pid,
    stdout: () => stdout,
    stderr: () => stderr,
    // Only pyhost-daemon processes (their arguments name a --socket): tsx's esbuild service shares the process group too.
    daemonPids: () =>
      groupMembers(pid).filter((p) => {
        if (p === pid) return false;
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('\0--socket\0');
        } catch {
          return false;
        }
      }),
    stop: () => (stopping ??= (async () => {
      if (!exited) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        await Promise.race([exitPromise, sleep(20_000)]);
      }
      const until = Date.now() + 3000;
      while (groupMembers(pid).length && Date.now() < until) await sleep(50);
      if (groupMembers(pid).length || !exited) await killGroup();
      liveGroups.delete(pid);
    })()),
  };
}

// ---- raw HTTP ------------------------------------------------------------------------------------

export interface Exchange {
  /** Request method. */
  method?: string;
  /** The request target exactly as sent (`//x`, `/%C3%A9`, `/a?b`). */
  target: string;
  /** The Host header (default `127.0.0.1:PORT`); `null` sends none (with `http10`). */
  host?: string | null;
  /** Send `HTTP/1.0` instead of `HTTP/1.1`. */
  http10?: boolean;
  headers?: [string, string][];
  /** A request body, sent with Content-Length (or chunked, with `chunked`). */
  body?: string | Buffer;
  /** Send the body with `Transfer-Encoding: chunked`, in pieces of this many bytes. */
  chunked?: number;
  /** The client's address (default 127.0.0.1): e.g. 127.0.0.2 to come from another host. */
  from?: string;
}

export interface Reply {
  status: number;
  reason: string;
  headers: [string, string][];
  header(name: string): string | undefined;
  body: Buffer;
  chunked: boolean;
  complete: boolean;
}

/** One request on its own connection (`Connection: close`), the reply parsed strictly. */
export async function send(port: number, ex: Exchange, timeoutMs = 30_000): Promise<Reply> {
  const method = ex.method ?? 'GET';
  const lines = [`${method} ${ex.target} HTTP/1.${ex.http10 ? 0 : 1}`];
  if (ex.host !== null) lines.push(`Host: ${ex.host ?? `127.0.0.1:${port}`}`);
  lines.push('Connection: close');
  for (const [n, v] of ex.headers ?? []) lines.push(`${n}: ${v}`);
  const body = ex.body === undefined ? undefined : Buffer.from(ex.body);
  if (body && ex.chunked) lines.push('Transfer-Encoding: chunked');
  else if (body) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  const payload = body && ex.chunked ? chunkedBody(body, ex.chunked) : body;
  const r = await rawRequest(port, payload ? Buffer.concat([head, payload]) : head, { timeoutMs, ...(ex.from ? { localAddress: ex.from } : {}) });
  if (r.timedOut) throw new Error(`${method} ${ex.target} on port ${port}: no complete reply within ${timeoutMs} ms`);
  const p = parseResponse(r.data, { closed: r.closed, head: method === 'HEAD' });
  return { status: p.status, reason: p.reason, headers: p.headers, header: p.header, body: p.body, chunked: p.chunked, complete: p.complete };
}

/** GET `target` and parse the JSON the env.wsgi fixture answers. */
export async function getJson<T = Record<string, unknown>>(port: number, target: string, host?: string): Promise<{ status: number; json: T; text: string }> {
  const r = await send(port, { target, host });
  const text = r.body.toString('utf8');
  let json: T;
  try {
    json = JSON.parse(text) as T;
  } catch {
    throw new Error(`GET ${target} (Host ${host ?? 'default'}): status ${r.status}, not JSON: ${text.slice(0, 300)}`);
  }
  return { status: r.status, json, text };
}

export { freePort };

const handedOut = new Set<number>();
/** `n` different free ports, none handed out before by this process. */
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!handedOut.has(p)) {
      handedOut.add(p);
      out.push(p);
    }
  }
  return out;
}
