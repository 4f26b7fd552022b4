/**
 * One daemon process: spawned fresh (never forked from a process with Python in it), ready once
 * it prints READY, its log records forwarded to the front's logger, its connections pooled.
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../logger.js';
import { LinkConnection, type OutboundRequest } from './connection.js';
import { refusalEvent, refusalLogLine } from '../scheduler/index.js';
import { exitReason, processRss, spawnDaemon, type DaemonLogLine, type SpawnSpec } from './spawn.js';
const STACK_DUMP_MARK = 'Python stacks of process ';

export interface ProcessSpec extends SpawnSpec {
  group: string;
  socketPath: string;
  threads: number;
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
  readonly connections = new Set<LinkConnection>();
  private readonly idle: LinkConnection[] = [];
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
      onConnectionLost(p: DaemonProcess, req: OutboundRequest | undefined, requeue: boolean): void;
      onExit(p: DaemonProcess, code: number | null, signal: string | null): void;
      onStopped(p: DaemonProcess): void;
      /** An application group in the process moved to %{GLOBAL}. */
      onFellBack(group: string): void;
      /** A process serving HTTP itself asks to be replaced (it served its maximum-requests). */
      onRecycle?(p: DaemonProcess, reason: string): void;
    },
  ) {
    this.exited = new Promise((r) => (this.resolveExited = r));
  }

  /** Requests in flight, as a process serving HTTP itself last reported them. */
  httpInflight = 0;

  /** Connections not idle: requests on this process now (an abandoned one counts until it closes). */
  get busy(): number {
    return this.connections.size - this.idle.length + this.httpInflight;
  }

  get describe(): string {
    return `daemon process ${this.spec.group}${this.pid ? ` (pid ${this.pid})` : ''}`;
  }

  /** Spawns the process; resolves when it accepts connections. */
  async start(): Promise<void> {
    const spawned = spawnDaemon(
      this.spec,
      () => this.describe,
      (line) => this.onLogLine(line),
      (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        const was = this.state;
        this.state = 'dead';
        for (const c of this.connections) c.close();
        this.resolveExited();
        // Exits during start-up reject start(); exits we asked for are expected.
        if (was !== 'starting' && was !== 'stopping') this.events.onExit(this, code, signal);
        else this.events.onStopped(this);
      },
      (line) => this.onStatus(line),
    );
    this.child = spawned.child;
    this.pid = spawned.child?.pid;
    await spawned.ready;
    if (this.state === 'starting') this.state = 'ready';
  }

  /**
   * A process serving HTTP itself: `SERVED <requests> <in flight>` counts its requests,
   * `RECYCLE <why>` asks for its replacement.
   */
  private onStatus(line: string): void {
    const recycle = /^RECYCLE (.*)$/.exec(line);
    if (recycle) {
      this.events.onRecycle?.(this, recycle[1]!);
      return;
    }
    const m = /^SERVED (\d+) (\d+)$/.exec(line);
    if (!m) return;
    const served = Number(m[1]);
    if (served !== this.served) this.lastActive = Date.now();
    this.served = served;
    this.httpInflight = Number(m[2]);
  }

  exitReason(): string {
    return exitReason(this.exitCode, this.exitSignal);
  }

  private onLogLine(line: DaemonLogLine): void {
    if (line.raw) {
      this.logger.error(`(${this.describe}) ${line.message}`, this.spec.group);
      return;
    }
    const refused = refusalEvent(line.message);
    if (refused) {
      // The process reports a refused extension; the words are the scheduler's.
      const group = line.group || this.spec.group;
      const { level, message } = refusalLogLine(group, refused);
      this.logger.log(level, message, group);
      if (refused.moved) this.events.onFellBack(group);
      return;
    }
    if (line.message.startsWith(STACK_DUMP_MARK) && this.stackWaiters.length) {
      const waiters = this.stackWaiters;
      this.stackWaiters = [];
      for (const w of waiters) w(line.message);
      return;
    }
    this.logger.log(line.level, line.message, line.group || this.spec.group);
  }

  /** An idle connection, or a new one while under `threads`; undefined when at capacity. */
  acquire(): LinkConnection | undefined {
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.connections.size >= this.spec.threads) return undefined;
    const conn = new LinkConnection(
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
    return processRss(this.pid);
  }
}
