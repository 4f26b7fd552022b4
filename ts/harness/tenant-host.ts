/**
 * A tenant host: a pyhost-daemon process (--tenant-host) that runs tenants for this harness, each
 * in an application group of its own, over one UNIX-socket connection (host-protocol.ts). Its
 * stdin is closed and its stdout/stderr are pipes of its own, so a tenant closing or writing its
 * descriptors touches only the host. When it dies, every call in flight resolves as crashed.
 */
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../logger.js';
import { exitReason, processRss, spawnDaemon, type SpawnSpec } from '../daemon/spawn.js';
import type { CollectedResponse } from '../http/collecting-writer.js';
import { encodeHostFrame, HostFlag, HostFrame, HostFrameReader, type HostMessage } from './host-protocol.js';
import type { CallLimits, DispatchOutcome, RequestOutcome } from './tenant-runtime.js';

/** How a group is created in the host, on its first call. */
export interface HostGroupSpec {
  name: string;
  kind: 'own' | 'shared' | 'main';
  strict: boolean;
  pooled: boolean;
  threads: number;
  path: string[];
}

type Waiter = {
  resolve(m: HostMessage | { type: 'stuck' } | { type: 'crashed'; reason: string }): void;
};

let serial = 0;

export class TenantHost {
  readonly id = ++serial;
  state: 'starting' | 'ready' | 'draining' | 'dead' = 'starting';
  /** Tenants placed here (the harness's bookkeeping). */
  readonly tenants = new Set<unknown>();
  private pid: number | undefined;
  private socket: net.Socket | undefined;
  private readonly reader = new HostFrameReader();
  private readonly waiters = new Map<number, Waiter>();
  private nextCall = 1;
  private corked = false;
  private killedByUs = false;
  private stopping = false;
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  private resolveExited!: () => void;
  readonly socketPath: string;

  constructor(
    private readonly spec: SpawnSpec,
    private readonly logger: Logger,
    dir: string,
    private readonly onExit: (host: TenantHost, reason: string) => void,
  ) {
    this.socketPath = path.join(dir, `host-${process.pid}-${this.id}.sock`);
    this.exited = new Promise((r) => (this.resolveExited = r));
  }

  get describe(): string {
    return `tenant host ${this.id}${this.pid ? ` (pid ${this.pid})` : ''}`;
  }

  /** Spawns the process and connects; resolves when it takes calls. */
  async start(): Promise<void> {
    const spawned = spawnDaemon(
      { ...this.spec, args: [...this.spec.args, '--socket', this.socketPath, '--name', `tenant-host-${this.id}`] },
      () => this.describe,
      (line) => this.logger.log(line.level, line.raw ? `(${this.describe}) ${line.message}` : line.message, line.group || undefined),
      (code, signal) => this.onProcessExit(code, signal),
    );
    this.pid = spawned.child?.pid;
    await spawned.ready;
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(this.socketPath);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
      this.socket = socket;
    });
    const socket = this.socket!;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      // The host closes its end only as it exits; the exit handler answers the waiters.
      if (this.state !== 'dead') this.kill();
    });
    if (this.state === 'starting') this.state = 'ready';
  }

  private onProcessExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exitCode = code;
    this.exitSignal = signal;
    const was = this.state;
    this.state = 'dead';
    this.socket?.destroy();
    const reason = this.exitReason();
    for (const w of this.waiters.values()) w.resolve({ type: 'crashed', reason });
    this.waiters.clear();
    this.resolveExited();
    if (was !== 'starting' && !this.stopping) this.onExit(this, reason);
  }

  exitReason(): string {
    const base = exitReason(this.exitCode, this.exitSignal);
    if (this.exitSignal === 'SIGKILL' && !this.killedByUs) return `${base}: by the kernel's OOM killer, or another process`;
    return base;
  }

  /** Whether pyhost killed it (a stuck call), rather than it dying of its own. */
  get killedByHarness(): boolean {
    return this.killedByUs;
  }

  private onData(chunk: Buffer): void {
    let messages: HostMessage[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      this.logger.error(`${this.describe}: ${(err as Error).message}; stopping it`);
      this.kill();
      return;
    }
    for (const m of messages) {
      const w = this.waiters.get(m.id);
      if (!w) continue;
      if (m.type === HostFrame.Stuck) {
        w.resolve({ type: 'stuck' });
        continue; // its RESULT, if it ever comes, is dropped
      }
      this.waiters.delete(m.id);
      w.resolve(m);
    }
  }

  private send(type: HostFrame, id: number, fields: (string | Buffer)[]): void {
    if (!this.socket || this.state === 'dead') return;
    // Frames of one event-loop turn leave in one write.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket?.uncork();
      });
    }
    this.socket.write(encodeHostFrame(type, id, fields));
  }

  /** Sends a frame that expects one answer; resolves with it (or stuck / crashed). */
  private ask(type: HostFrame, fields: (string | Buffer)[]): Promise<HostMessage | { type: 'stuck' } | { type: 'crashed'; reason: string }> {
    if (this.state === 'dead') return Promise.resolve({ type: 'crashed', reason: this.exitReason() });
    const id = this.nextCall++;
    if (this.nextCall > 0xffffffff) this.nextCall = 1;
    return new Promise((resolve) => {
      let answered = false;
      this.waiters.set(id, {
        resolve: (m) => {
          if (answered) return;
          answered = true;
          resolve(m);
        },
      });
      this.send(type, id, fields);
    });
  }

  /**
   * Keeps `target` warm interpreters of a kind ready in the host, each having run `prelude`;
   * `installer` runs first in an interpreter that does not come from the pool.
   */
  pool(kind: 'own' | 'shared', strict: boolean, target: number, prelude: string, installer: string): void {
    this.send(HostFrame.Pool, 0, [kind, strict ? '1' : '0', String(target), prelude, installer]);
  }

  /** `_pyhost_tenant.dispatch(text)` in the group (created on first use). */
  async dispatch(group: HostGroupSpec, text: string, limits?: CallLimits): Promise<DispatchOutcome> {
    const m = await this.ask(HostFrame.Call, [
      group.name, group.kind, group.strict ? '1' : '0', group.pooled ? '1' : '0', String(group.threads), group.path.join('\0'),
      String(limits?.timeoutMs ?? 0), String(limits?.graceMs ?? 0), text,
    ]);
    if (m.type === 'stuck') return { kind: 'stuck' };
    if (m.type === 'crashed') return { kind: 'crashed', reason: m.reason };
    const msg = m as HostMessage;
    const interrupted = msg.flags & HostFlag.TimedOut ? 'timeout' : msg.flags & HostFlag.Cancelled ? 'cancelled' : undefined;
    const out = msg.fields[0]?.toString('utf8') ?? '';
    return msg.flags & HostFlag.Failed ? { kind: 'failed', message: out, interrupted } : { kind: 'done', text: out, interrupted };
  }

  /** A WSGI request (`fields`: a REQUEST frame's fields, protocol.ts) with its whole body. */
  async request(groupName: string, flags: number, fields: Buffer, body: Buffer, limits?: CallLimits): Promise<RequestOutcome> {
    const m = await this.ask(HostFrame.Request, [
      groupName, String(limits?.timeoutMs ?? 0), String(limits?.graceMs ?? 0), String(flags), fields, body,
    ]);
    if (m.type === 'stuck') return { kind: 'stuck' };
    if (m.type === 'crashed') return { kind: 'crashed', reason: m.reason };
    const msg = m as HostMessage;
    if (msg.type === HostFrame.Result) {
      // Refused before the gateway ran: a missing group, a malformed request.
      const text = msg.fields[0]?.toString('utf8') ?? 'no response';
      return { kind: 'done', response: { status: 500, reason: 'Internal Server Error', headers: [], body: Buffer.from(text + '\n'), aborted: false } };
    }
    const [status, reason, headers, responseBody] = msg.fields;
    const list = headers.length ? headers.toString('latin1').split('\n') : [];
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < list.length; i += 2) pairs.push([list[i], list[i + 1]]);
    const response: CollectedResponse = {
      status: Number(status.toString()),
      reason: reason.toString('latin1'),
      headers: pairs,
      body: Buffer.from(responseBody),
      aborted: false,
    };
    const interrupted = msg.flags & HostFlag.TimedOut ? 'timeout' : msg.flags & HostFlag.Cancelled ? 'cancelled' : undefined;
    return { kind: 'done', response, interrupted };
  }

  /** Ends a group's interpreter in the host. */
  async drop(groupName: string, waitMs: number): Promise<'ended' | 'stuck'> {
    const m = await this.ask(HostFrame.Drop, [groupName, String(waitMs)]);
    if (m.type === 'crashed' || m.type === 'stuck') return 'ended'; // a dead host ended it too
    return (m as HostMessage).fields[0]?.toString() === 'ended' ? 'ended' : 'stuck';
  }

  /** Kills the process at once (a stuck call); its calls in flight resolve as crashed. */
  kill(): void {
    if (this.state === 'dead' || !this.pid) return;
    this.killedByUs = true;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }

  /** Ends the process: it finishes when the connection closes (bounded), else it is killed. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.state === 'dead') return;
    this.stopping = true;
    this.state = 'draining';
    this.socket?.end();
    const timer = setTimeout(() => this.kill(), timeoutMs);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
  }

  /** Resident memory in bytes, or 0. */
  rss(): number {
    return processRss(this.pid);
  }

  get processId(): number | undefined {
    return this.pid;
  }
}
