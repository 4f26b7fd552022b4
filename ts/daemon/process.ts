/**
 * One daemon process: spawned fresh (never forked from a process with Python in it), ready once
 * it prints READY, its log records forwarded to the front's logger, its connections pooled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import type { Logger, LogLevel } from '../logger.js';
import { DaemonConnection, type DaemonRequest } from './connection.js';

const NATIVE_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];
const STACK_DUMP_MARK = 'Python stacks of process ';

export interface ProcessSpec {
  group: string;
  binary: string;
  args: string[];
  socketPath: string;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  argv0: string;
  threads: number;
  startupTimeout: number;
  shutdownTimeout: number;
}

/** 'suspect': it dropped a request; no work until its exit is seen (or briefly). */
export type ProcessState = 'starting' | 'ready' | 'suspect' | 'draining' | 'stopping' | 'dead';

export class DaemonProcess {
  state: ProcessState = 'starting';
  pid: number | undefined;
  served = 0;
  readonly startedAt = Date.now();
  lastActive = Date.now();
  /** Requests before this process is recycled (maximumRequests with jitter). */
  limit = Infinity;
  /** A successor is being started for it. */
  recycling = false;
  readonly connections = new Set<DaemonConnection>();
  private readonly idle: DaemonConnection[] = [];
  private child: ChildProcess | undefined;
  private stackWaiters: ((s: string) => void)[] = [];
  private exitCode: number | null = null;
  private exitSignal: string | null = null;
  readonly exited: Promise<void>;
  private resolveExited!: () => void;

  constructor(
    readonly spec: ProcessSpec,
    private readonly logger: Logger,
    private readonly events: {
      onIdle(p: DaemonProcess): void;
      onConnectionLost(p: DaemonProcess, req: DaemonRequest | undefined, requeue: boolean): void;
      onExit(p: DaemonProcess, code: number | null, signal: string | null): void;
      onStopped(p: DaemonProcess): void;
    },
  ) {
    this.exited = new Promise((r) => (this.resolveExited = r));
  }

  /** Connections not idle: requests on this process now (an abandoned one counts until it closes). */
  get busy(): number {
    return this.connections.size - this.idle.length;
  }

  get describe(): string {
    return `daemon process ${this.spec.group}${this.pid ? ` (pid ${this.pid})` : ''}`;
  }

  /** Spawns the process; resolves when it accepts connections. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        settle(new Error(`${this.describe} did not start within ${this.spec.startupTimeout} ms`));
        this.kill();
      }, this.spec.startupTimeout);
      timer.unref();
      let child: ChildProcess;
      try {
        child = spawn(this.spec.binary, this.spec.args, {
          argv0: this.spec.argv0,
          env: this.spec.env,
          cwd: this.spec.cwd,
          uid: this.spec.uid,
          gid: this.spec.gid,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        this.state = 'dead';
        this.resolveExited();
        settle(new Error(`cannot start ${this.describe}: ${(err as Error).message}`));
        return;
      }
      this.child = child;
      this.pid = child.pid;
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.startsWith('READY')) {
          if (this.state === 'starting') this.state = 'ready';
          settle();
        } else if (line.startsWith('FAILED ')) {
          settle(new Error(`${this.describe} failed to start: ${line.slice(7)}`));
        }
      });
      readline.createInterface({ input: child.stderr! }).on('line', (line) => this.onLogLine(line));
      child.on('error', (err) => settle(new Error(`cannot start ${this.describe}: ${err.message}`)));
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        const was = this.state;
        this.state = 'dead';
        for (const c of this.connections) c.close();
        settle(new Error(`${this.describe} exited during start-up (${this.exitReason()})`));
        this.resolveExited();
        // Exits during start-up reject start(); exits we asked for are expected.
        if (was !== 'starting' && was !== 'stopping') this.events.onExit(this, code, signal);
        else this.events.onStopped(this);
      });
    });
  }

  exitReason(): string {
    return this.exitSignal ? `killed by signal ${this.exitSignal}` : `exit code ${this.exitCode}`;
  }

  private onLogLine(line: string): void {
    if (line.startsWith('{')) {
      try {
        const r = JSON.parse(line) as { level: number; group: string; message: string };
        if (r.message.startsWith(STACK_DUMP_MARK) && this.stackWaiters.length) {
          const waiters = this.stackWaiters;
          this.stackWaiters = [];
          for (const w of waiters) w(r.message);
          return;
        }
        this.logger.log(NATIVE_LEVELS[r.level] ?? 'info', r.message, r.group || this.spec.group);
        return;
      } catch {
        /* not one of ours: log it as is */
      }
    }
    this.logger.error(`(${this.describe}) ${line}`, this.spec.group);
  }

  /** An idle connection, or a new one while under `threads`; undefined when at capacity. */
  acquire(): DaemonConnection | undefined {
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.connections.size >= this.spec.threads) return undefined;
    const conn = new DaemonConnection(
      this.spec.socketPath,
      (c) => {
        this.lastActive = Date.now();
        this.served++;
        this.idle.push(c);
        this.events.onIdle(this);
      },
      (c, req, requeue) => {
        this.connections.delete(c);
        const i = this.idle.indexOf(c);
        if (i >= 0) this.idle.splice(i, 1);
        if (req) this.events.onConnectionLost(this, req, requeue);
      },
    );
    this.connections.add(conn);
    return conn;
  }

  /** Asks the process to log its Python stacks; resolves with them (or a note after 3 s). */
  dumpStacks(): Promise<string> {
    if (!this.pid || this.state === 'dead') return Promise.resolve('');
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(`(${this.describe} did not report its stacks within 3 s)`), 3000);
      timer.unref();
      this.stackWaiters.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
      this.child?.kill('SIGUSR2');
    });
  }

  /** Graceful stop: SIGTERM (the process finishes requests within its shutdown timeout), then SIGKILL. */
  async stop(): Promise<void> {
    if (this.state === 'dead') return;
    this.state = 'stopping';
    for (const c of [...this.idle]) c.close();
    this.child?.kill('SIGTERM');
    const timer = setTimeout(() => this.kill(), this.spec.shutdownTimeout + 2000);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** Resident memory in bytes (from /proc), or 0. */
  rss(): number {
    if (!this.pid) return 0;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  }
}
