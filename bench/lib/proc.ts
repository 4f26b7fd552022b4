/**
 * Child processes for the bench: every server runs in its own process group (spawned detached) so
 * that stopping it reaches its workers too; every live group is killed when the bench exits, fails
 * or is interrupted (Ctrl-C), and every registered async cleanup (e.g. an Apache instance's
 * stop()) runs on SIGINT/SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- cleanup registry -------------------------------------------------------------------------

const liveGroups = new Set<number>();
const cleanups = new Set<() => Promise<void>>();
let hooksInstalled = false;
let interruptedBy: NodeJS.Signals | undefined;

/** The signal that is stopping the bench, if any (failures after it are just the shutdown). */
export function interrupted(): NodeJS.Signals | undefined {
  return interruptedBy;
}

/** Register an async cleanup run on SIGINT/SIGTERM; returns a function that unregisters it. */
export function onInterrupt(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

function killAllGroupsSync(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveGroups.clear();
}

/** Install exit and signal hooks once: stop servers on Ctrl-C, kill leftovers on any exit. */
export function installCleanupHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllGroupsSync);
  const onSignal = (signal: NodeJS.Signals) => {
    if (interruptedBy) {
      killAllGroupsSync();
      process.exit(130);
    }
    interruptedBy = signal;
    process.stderr.write(`\n[bench] ${signal}: stopping every server, then exiting\n`);
    const all = [...cleanups].map((fn) => fn().catch(() => undefined));
    void Promise.race([Promise.all(all), sleep(8000)]).then(() => {
      killAllGroupsSync();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

// ---- spawning ---------------------------------------------------------------------------------

export interface SpawnedServer {
  readonly pid: number;
  readonly command: string;
  /** Resolves when the group leader exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** Last `lines` lines of the process's stdout+stderr log file. */
  logTail(lines?: number): string;
  /** SIGTERM the whole process group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr go to this file (not through Node, so logging costs the bench nothing). */
  logFile: string;
}

/** Spawn `cmd args` detached (its own process group), output to a log file, tracked for cleanup. */
export function spawnServer(cmd: string, args: string[], opts: SpawnOptions): SpawnedServer {
  installCleanupHooks();
  const fd = fs.openSync(opts.logFile, 'a');
  const command = [cmd, ...args].join(' ');
  fs.writeSync(fd, `$ ${command}\n`);
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    fs.closeSync(fd);
  }
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once('error', (err) => {
      fs.appendFileSync(opts.logFile, `spawn error: ${err.message}\n`);
      exitInfo = { code: -1, signal: null };
      resolve(exitInfo);
    });
  });
  const pid = child.pid ?? -1;
  if (pid > 0) liveGroups.add(pid);

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5000): Promise<void> => {
    stopping ??= (async () => {
      if (pid <= 0) return;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      await Promise.race([exited, sleep(graceMs)]);
      // Workers may outlive their master for a moment: give the group a short grace, then kill it.
      const until = Date.now() + 1000;
      while (groupAlive(pid) && Date.now() < until) await sleep(50);
      if (groupAlive(pid)) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await Promise.race([exited, sleep(2000)]);
      }
      liveGroups.delete(pid);
    })();
    return stopping;
  };

  return {
    pid,
    command,
    exited,
    hasExited: () => exitInfo !== undefined,
    logTail: (lines = 40) => tailFile(opts.logFile, lines),
    stop,
  };
}

/** True while any non-zombie process is left in process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z' && rest[0] !== 'X') return true;
    } catch {
      /* exited meanwhile */
    }
  }
  return false;
}

export function tailFile(file: string, lines = 40): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

// ---- ports ------------------------------------------------------------------------------------

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: no address'));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
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

/**
 * Wait until 127.0.0.1:port accepts connections. Rejects (with the server's log tail) if the
 * server exits first or does not answer within `timeoutMs`.
 */
export async function waitForPort(port: number, server: SpawnedServer, name: string, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.hasExited()) {
      const info = await server.exited;
      throw new Error(
        `${name} exited during startup (code ${info.code}, signal ${info.signal})\n  command: ${server.command}\n` +
          indent(server.logTail()),
      );
    }
    if (await canConnect(port)) return;
    if (Date.now() > deadline) {
      throw new Error(`${name} did not answer on 127.0.0.1:${port} within ${timeoutMs} ms\n  command: ${server.command}\n` + indent(server.logTail()));
    }
    await sleep(50);
  }
}

export function indent(text: string, prefix = '  | '): string {
  if (!text.trim()) return `${prefix}(no output)`;
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

/** Run a command to completion; resolves with its exit code and combined output (never rejects). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<{ code: number; output: string; stdout: string }> {
  return new Promise((resolve) => {
    let stdout = '';
    let output = '';
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ code: -1, output: String(e), stdout: '' });
      return;
    }
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (e) => {
      if (timer) clearTimeout(timer);
      resolve({ code: -1, output: output + e.message, stdout });
    });
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? -1, output, stdout });
    });
  });
}
