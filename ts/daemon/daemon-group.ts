/**
 * DaemonGroup: a daemon process group (WSGIDaemonProcess): `processes` x `threads`, its own
 * Python, venv, user and environment; supervised from the front. Requests wait in the front's
 * queue until a process has a free thread, so a crash loses only the requests in flight on it.
 * Processes are recycled gracefully (the replacement is ready before the old one stops taking
 * work) after maximumRequests, restartInterval, inactivityTimeout or memoryLimit; a request
 * over requestTimeout gets 504 and its process is restarted, its Python stacks logged.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PyhostError } from '../errors.js';
import type { Exchange } from '../http/backend.js';
import type { Logger } from '../logger.js';
import type { OutboundRequest, RequestPlacement } from './connection.js';
import { NO_EVENTS, type SchedulerEvents } from '../scheduler/events.js';
import { overran, TimeoutClock } from '../scheduler/index.js';
import type { DaemonNativeHttp } from './options.js';
import { DaemonProcess, type ProcessSpec } from './process.js';

/** Resolved options of a daemon group (times in ms). */
export interface DaemonGroupSettings {
  name: string;
  processes: number;
  processesExplicit: boolean;
  threads: number;
  binary: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  displayName: string;
  maximumRequests: number;
  restartInterval: number;
  inactivityTimeout: number;
  memoryLimit: number;
  requestTimeout: number;
  startupTimeout: number;
  queueTimeout: number;
  gracefulTimeout: number;
  shutdownTimeout: number;
  pythonVersion: string;
  /** The processes serve HTTP themselves on a listening socket (no request passes through here). */
  nativeHttp?: DaemonNativeHttp;
}

const BACKOFF_MIN = 100;
const BACKOFF_MAX = 5000;
const STABLE_AFTER = 10_000;

export class DaemonGroup implements RequestPlacement {
  readonly processes = new Set<DaemonProcess>();
  private readonly queue: OutboundRequest[] = [];
  private readonly running = new Map<OutboundRequest, DaemonProcess>();
  private readonly socketDir: string;
  private serial = 0;
  private failures = 0;
  private closing = false;
  private readonly clock: TimeoutClock;
  private started: Promise<void> | undefined;
  /** Requests answered 502 because their process died. */
  lostRequests = 0;
  restarts = 0;

  constructor(
    readonly settings: DaemonGroupSettings,
    private readonly logger: Logger,
    private readonly events: SchedulerEvents = NO_EVENTS,
  ) {
    this.socketDir = fs.mkdtempSync(path.join(os.tmpdir(), `pyhost-${settings.name.replace(/[^\w.-]/g, '_').slice(0, 40)}-`));
    fs.chmodSync(this.socketDir, 0o711);
    if (settings.uid !== undefined) fs.chownSync(this.socketDir, settings.uid, settings.gid ?? -1);
    // Timeouts, and each second at least the processes' recycling triggers.
    this.clock = new TimeoutClock([settings.requestTimeout, settings.queueTimeout], () => this.tick(), 1000);
    if (settings.nativeHttp) fs.writeFileSync(this.httpConfigFile(), settings.nativeHttp.config, { mode: 0o644 });
  }

  private httpConfigFile(): string {
    return path.join(this.socketDir, 'http.conf');
  }

  get name(): string {
    return this.settings.name;
  }

  /** Starts every process; resolves when all are ready (rejects if one cannot start). */
  start(): Promise<void> {
    if (!this.started) {
      const all: Promise<void>[] = [];
      for (let i = 0; i < this.settings.processes; i++) all.push(this.spawn());
      this.started = Promise.all(all).then(() => undefined);
    }
    return this.started;
  }

  private spawn(): Promise<void> {
    const s = this.settings;
    const id = ++this.serial;
    const spec: ProcessSpec = {
      group: s.name,
      binary: s.binary,
      args: [...s.args, '--socket', path.join(this.socketDir, `p${id}-${crypto.randomBytes(3).toString('hex')}.sock`)],
      socketPath: '',
      env: s.env,
      cwd: s.cwd,
      uid: s.uid,
      gid: s.gid,
      argv0: s.displayName,
      threads: s.threads,
      startupTimeout: s.startupTimeout,
      shutdownTimeout: s.shutdownTimeout,
    };
    spec.socketPath = spec.args[spec.args.length - 1];
    if (s.nativeHttp) {
      spec.args.push('--http-config', this.httpConfigFile());
      spec.extraFds = [s.nativeHttp.listenFd, ...(s.nativeHttp.accessLogFd !== undefined ? [s.nativeHttp.accessLogFd] : [])];
    }
    const proc = new DaemonProcess(spec, this.logger, {
      onIdle: () => this.dispatch(),
      onConnectionLost: (p, req, requeue) => this.onConnectionLost(p, req, requeue),
      onExit: (p, code, signal) => this.onExit(p, code, signal),
      onStopped: (p) => this.processes.delete(p),
      onFellBack: (group) => this.events.fellBack(group, this.name),
      onRecycle: (p, reason) => this.recycle(p, reason),
    });
    if (s.maximumRequests > 0) {
      // Jitter (up to 10%) so processes started together are not all recycled at once.
      proc.limit = s.maximumRequests + Math.floor(Math.random() * Math.max(1, Math.floor(s.maximumRequests / 10)));
    }
    this.processes.add(proc);
    return proc.start().then(
      () => {
        this.logger.info(`${proc.describe} ready (Python ${s.pythonVersion}, ${s.threads} threads)`, s.name);
        if (this.closing) void proc.stop();
        this.dispatch();
      },
      (err: Error) => {
        this.processes.delete(proc);
        this.logger.error(err.message, s.name);
        if (!this.closing) this.scheduleRestart();
        throw err;
      },
    );
  }

  private scheduleRestart(): void {
    const delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** Math.min(this.failures, 10));
    this.failures++;
    this.restarts++;
    this.events.restarted(this.name, 'crash');
    setTimeout(() => {
      if (!this.closing && this.liveCount() < this.settings.processes) this.spawn().catch(() => {});
    }, delay).unref();
  }

  private liveCount(): number {
    let n = 0;
    for (const p of this.processes) if (p.state === 'starting' || p.state === 'ready' || p.state === 'suspect') n++;
    return n;
  }

  private onExit(p: DaemonProcess, code: number | null, signal: string | null): void {
    this.processes.delete(p);
    if (this.closing) return;
    const lived = Date.now() - p.startedAt;
    if (lived > STABLE_AFTER) this.failures = 0;
    this.logger.error(`${p.describe} exited unexpectedly (${p.exitReason()}); starting a new one`, this.name);
    this.scheduleRestart();
  }

  private onConnectionLost(p: DaemonProcess, req: OutboundRequest | undefined, requeue: boolean): void {
    if (req && requeue) {
      this.running.delete(req);
      this.queue.unshift(req);
    } else if (req && !req.cancelled) {
      this.lostRequests++;
    }
    if (req && !req.cancelled && p.state === 'ready') {
      // A connection dropped under a request we did not cancel: the process is probably dying.
      // Send it nothing until its exit is handled (or, if it lives on, for a moment).
      p.state = 'suspect';
      setTimeout(() => {
        if (p.state === 'suspect') {
          p.state = 'ready';
          this.dispatch();
        }
      }, 1000).unref();
    }
    this.dispatch();
  }

  /** Queues a request for this group. */
  submit(ex: Exchange, fields: OutboundRequest['fields'], flags: number, make: (placement: RequestPlacement) => OutboundRequest): OutboundRequest {
    if (this.closing) throw new PyhostError('ERR_ENGINE_CLOSED', `daemon group ${this.name} is closed`);
    const req = make(this);
    this.queue.push(req);
    this.dispatch();
    return req;
  }

  /** Sends queued requests to processes with free threads (least busy first). */
  private dispatch(): void {
    while (this.queue.length) {
      let best: DaemonProcess | undefined;
      let bestBusy = Infinity;
      for (const p of this.processes) {
        if (p.state !== 'ready') continue;
        const busy = p.busy;
        if (busy < this.settings.threads && busy < bestBusy) {
          best = p;
          bestBusy = busy;
        }
      }
      if (!best) return;
      if (this.queue[0].cancelled) {
        this.queue.shift();
        continue;
      }
      const conn = best.acquire();
      if (!conn) return;
      const req = this.queue.shift()!;
      this.running.set(req, best);
      conn.send(req);
      if (best.served + best.busy >= best.limit) this.recycle(best, `maximum-requests ${this.settings.maximumRequests} reached`);
    }
  }

  withdraw(req: OutboundRequest): boolean {
    const i = this.queue.indexOf(req);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    req.cancelled = true;
    req.finish();
    return true;
  }

  onFinished(req: OutboundRequest): void {
    this.running.delete(req);
    this.dispatch();
  }

  async onTimeout(req: OutboundRequest): Promise<string> {
    const proc = this.running.get(req);
    if (!proc) {
      req.conn?.abandon();
      return '';
    }
    // No more work for it from now on, its successor starting; stacks first, then it stops.
    const wasReady = proc.state === 'ready';
    if (wasReady) {
      proc.state = 'draining';
      proc.recycling = true;
      this.logger.info(`recycling ${proc.describe}: a request exceeded its timeout`, this.name);
      this.spawn().catch(() => {});
    }
    const stacks = await proc.dumpStacks();
    req.conn?.abandon();
    if (wasReady) void proc.stop();
    return stacks;
  }

  /**
   * Replaces a process: its successor starts, and once it is ready the old one takes no more
   * work and stops when its requests are done (or after the graceful timeout). A stuck process
   * (a request timed out on it) stops taking work at once.
   */
  recycle(p: DaemonProcess, reason: string, stuck = false): void {
    if (p.recycling || p.state !== 'ready' || this.closing) return;
    p.recycling = true;
    this.logger.info(`recycling ${p.describe}: ${reason}`, this.name);
    this.events.restarted(this.name, stuck ? 'timeout' : 'recycle');
    const retire = () => {
      if (p.state === 'dead') return;
      p.state = 'draining';
      const deadline = Date.now() + this.settings.gracefulTimeout;
      const wait = () => {
        if (p.state === 'dead') return;
        if (p.busy === 0 || stuck || Date.now() >= deadline) void p.stop();
        else setTimeout(wait, 20).unref();
      };
      wait();
    };
    if (stuck) {
      retire();
      this.spawn().catch(() => {});
      return;
    }
    this.spawn().then(retire, () => {
      p.recycling = false; // no successor: keep serving; the next trigger tries again
    });
  }

  /** Restarts every process gracefully (SIGHUP in the CLI); no request fails. */
  async restart(): Promise<void> {
    for (const p of [...this.processes]) if (p.state === 'ready') this.recycle(p, 'restart requested');
  }

  private tick(): void {
    const s = this.settings;
    const now = Date.now();
    if (s.queueTimeout > 0) {
      while (this.queue.length && overran(this.queue[0].queuedAt, s.queueTimeout, now)) {
        const req = this.queue.shift()!;
        this.logger.error(`request for ${req.ex.fields.requestUri} waited ${now - req.queuedAt} ms for a daemon thread (queue timeout): 503`, this.name);
        this.events.timedOut(req.ex.groupName, this.name, 'queue');
        req.ex.writer.fail(503, 'Service Unavailable');
        req.cancelled = true;
        req.finish();
      }
    }
    if (s.requestTimeout > 0) {
      for (const [req, proc] of this.running) {
        if (req.cancelled || !overran(req.sentAt, s.requestTimeout, now)) continue;
        req.cancelled = true;
        req.ex.writer.fail(504, 'Gateway Timeout');
        this.events.timedOut(req.ex.groupName, this.name, 'request');
        void this.onTimeout(req).then((stack) =>
          this.logger.error(
            `request for ${req.ex.fields.requestUri} exceeded the request timeout of ${s.requestTimeout} ms on ${proc.describe}: 504, process restarted` +
              (stack ? `; ${stack.trimEnd()}` : ''),
            this.name,
          ),
        );
      }
    }
    for (const p of [...this.processes]) {
      if (p.state !== 'ready') continue;
      if (s.restartInterval > 0 && now - p.startedAt > s.restartInterval) this.recycle(p, `restart-interval ${s.restartInterval / 1000} s`);
      else if (s.inactivityTimeout > 0 && p.busy === 0 && now - p.lastActive > s.inactivityTimeout) {
        p.lastActive = now;
        this.recycle(p, `inactive for ${s.inactivityTimeout / 1000} s`);
      } else if (s.memoryLimit > 0 && p.rss() > s.memoryLimit) this.recycle(p, `memory ${p.rss()} bytes over the limit of ${s.memoryLimit}`);
    }
  }

  stats(): { processes: { pid?: number; state: string; busy: number; served: number }[]; queued: number; lost: number; restarts: number } {
    return {
      processes: [...this.processes].map((p) => ({ pid: p.pid, state: p.state, busy: p.busy, served: p.served })),
      queued: this.queue.length,
      lost: this.lostRequests,
      restarts: this.restarts,
    };
  }

  /** Stops accepting, lets requests finish within the graceful timeout, stops the processes. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.clock.stop();
    for (const req of this.queue.splice(0)) {
      req.ex.writer.fail(503, 'Service Unavailable');
      req.cancelled = true;
      req.finish();
    }
    const deadline = Date.now() + this.settings.gracefulTimeout;
    while (this.running.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.processes].map((p) => p.stop()));
    fs.rmSync(this.socketDir, { recursive: true, force: true });
  }
}
