/**
 * Starting a pyhost-daemon process (a daemon of a process group, or a harness tenant host):
 * spawned fresh, never forked from a process with Python in it; ready once it prints READY (or
 * failed, with the reason it prints); its log records (JSON lines on stderr) forwarded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import type { LogLevel } from '../logger.js';

const NATIVE_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface SpawnSpec {
  binary: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  argv0: string;
  /** Milliseconds to wait for READY. */
  startupTimeout: number;
  /** Descriptors passed down as 3, 4, ... (a listening socket for processes that serve HTTP). */
  extraFds?: number[];
}

/** A log record of the process: a native record, or a line it wrote to stderr itself. */
export interface DaemonLogLine {
  level: LogLevel;
  group: string;
  message: string;
  /** Not a record of pyhost's: a raw line (a crash message, a C library's complaint). */
  raw: boolean;
}

export interface SpawnedDaemon {
  child: ChildProcess | undefined;
  /** Resolves once the process printed READY; rejects with the reason it did not. */
  ready: Promise<void>;
}

export function parseDaemonLogLine(line: string): DaemonLogLine {
  if (line.startsWith('{')) {
    try {
      const r = JSON.parse(line) as { level: number; group: string; message: string };
      return { level: NATIVE_LEVELS[r.level] ?? 'info', group: r.group, message: r.message, raw: false };
    } catch {
      /* not one of ours: as is */
    }
  }
  return { level: 'error', group: '', message: line, raw: true };
}

/**
 * Spawns the process. `describe` names it in errors; `onLog` gets each stderr line; `onExit` the
 * exit (also during start-up, after `ready` rejected); `onStatus` the stdout lines after READY.
 */
export function spawnDaemon(
  spec: SpawnSpec,
  describe: () => string,
  onLog: (line: DaemonLogLine) => void,
  onExit: (code: number | null, signal: NodeJS.Signals | null) => void,
  onStatus?: (line: string) => void,
): SpawnedDaemon {
  let child: ChildProcess | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => {
      settle(new Error(`${describe()} did not start within ${spec.startupTimeout} ms`));
      child?.kill('SIGKILL');
    }, spec.startupTimeout);
    timer.unref();
    try {
      child = spawn(spec.binary, spec.args, {
        argv0: spec.argv0,
        env: spec.env,
        cwd: spec.cwd,
        uid: spec.uid,
        gid: spec.gid,
        stdio: ['ignore', 'pipe', 'pipe', ...(spec.extraFds ?? [])],
      });
    } catch (err) {
      settle(new Error(`cannot start ${describe()}: ${(err as Error).message}`));
      queueMicrotask(() => onExit(null, null));
      return;
    }
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('READY')) settle();
      else if (line.startsWith('FAILED ')) settle(new Error(`${describe()} failed to start: ${line.slice(7)}`));
      else onStatus?.(line);
    });
    readline.createInterface({ input: child.stderr! }).on('line', (line) => onLog(parseDaemonLogLine(line)));
    child.on('error', (err) => settle(new Error(`cannot start ${describe()}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      settle(new Error(`${describe()} exited during start-up (${exitReason(code, signal)})`));
      onExit(code, signal);
    });
  });
  return { child, ready };
}

export function exitReason(code: number | null, signal: string | null): string {
  return signal ? `killed by signal ${signal}` : `exit code ${code}`;
}

/** Resident memory of a process in bytes (from /proc), or 0. */
export function processRss(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
