/**
 * The tenant host processes of a harness (isolation 'process'): where the next tenant goes (the
 * fullest ready host with room, else a new one); one spare host, empty and ready with its warm
 * pool, kept at all times, so that the tenants of a host that crashed are re-created without
 * waiting for a process to start; and recycling: a host whose resident memory has grown past the
 * budget (CPython does not give back all of an ended interpreter's memory) takes no new tenants
 * and ends once its tenants are gone.
 */
import type { Logger } from '../logger.js';
import type { SpawnSpec } from '../daemon/spawn.js';
import { TenantHost } from './tenant-host.js';

/** An empty host beyond the spare lives this long. */
const IDLE_HOST_MS = 5000;

export interface HostPoolOptions {
  spec: SpawnSpec;
  dir: string;
  tenantsPerProcess: number;
  /** Recycle a host whose RSS exceeds this many bytes. */
  recycleRss: number;
  /** Sent to each host once it is ready (its warm pool). */
  onReady(host: TenantHost): void;
  /** A host died under its tenants (not stopped by the pool). */
  onLost(host: TenantHost, reason: string): void;
  logger: Logger;
}

export class HostPool {
  private readonly hosts = new Set<TenantHost>();
  private starting: Promise<TenantHost> | undefined;
  private closed = false;

  constructor(private readonly o: HostPoolOptions) {}

  /** Ready hosts with tenants or room for them. */
  list(): TenantHost[] {
    return [...this.hosts];
  }

  private hasRoom(h: TenantHost): boolean {
    return h.state === 'ready' && h.tenants.size < this.o.tenantsPerProcess;
  }

  /** A host with room for one more tenant (the tenant is not yet counted: see take()). */
  async place(): Promise<TenantHost> {
    for (;;) {
      // The fullest host with room: tenants stay packed, and the spare stays empty.
      let best: TenantHost | undefined;
      for (const h of this.hosts) if (this.hasRoom(h) && (!best || h.tenants.size > best.tenants.size)) best = h;
      if (best) return best;
      await this.startHost();
    }
  }

  /** Counts `tenant` on `host`; starts a new spare when the spare was taken. */
  take(host: TenantHost, tenant: unknown): void {
    host.tenants.add(tenant);
    this.keepSpare();
  }

  /** Starts the first host (the spare); rejects if a host cannot start at all. */
  async prepare(): Promise<void> {
    await this.startHost();
  }

  /** One empty ready host, or one on its way. */
  private keepSpare(): void {
    if (this.closed || this.starting) return;
    if ([...this.hosts].some((h) => h.state === 'ready' && h.tenants.size === 0)) return;
    void this.startHost().catch((err: Error) => this.o.logger.warn(`cannot start a spare tenant host: ${err.message}`));
  }

  /**
   * `tenant` left `host`: a draining host with no tenants left is stopped; an empty host beyond the
   * spare stops after IDLE_HOST_MS without tenants (tenants that come and go do not start and stop
   * a process each).
   */
  release(host: TenantHost, tenant: unknown): void {
    host.tenants.delete(tenant);
    this.checkMemory(host);
    if (host.tenants.size === 0 && host.state === 'draining') void this.stopHost(host);
    else if (host.tenants.size === 0 && host.state === 'ready') this.scheduleIdleCheck();
  }

  private idleTimer: NodeJS.Timeout | undefined;

  private scheduleIdleCheck(): void {
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const empty = [...this.hosts].filter((h) => h.state === 'ready' && h.tenants.size === 0);
      for (const h of empty.slice(1)) void this.stopHost(h);
    }, IDLE_HOST_MS);
    this.idleTimer.unref();
  }

  /** Marks a host draining once its memory has grown past the budget. */
  checkMemory(host: TenantHost): void {
    if (host.state !== 'ready' || this.o.recycleRss <= 0) return;
    const rss = host.rss();
    if (rss > this.o.recycleRss) {
      host.state = 'draining';
      this.o.logger.info(`${host.describe}: ${Math.round(rss / 1048576)} MiB resident, over the recycling budget of ` +
        `${Math.round(this.o.recycleRss / 1048576)} MiB: new tenants go to a fresh host`);
      if (host.tenants.size === 0) void this.stopHost(host);
    }
  }

  /** No new tenants on `host` (it cannot end an interpreter): it ends when its tenants are gone. */
  drain(host: TenantHost): void {
    if (host.state === 'ready') host.state = 'draining';
    if (host.tenants.size === 0) void this.stopHost(host);
  }

  private startHost(): Promise<TenantHost> {
    if (this.closed) return Promise.reject(new Error('the harness is closed'));
    if (this.starting) return this.starting;
    const host = new TenantHost(this.o.spec, this.o.logger, this.o.dir, (h, reason) => {
      this.hosts.delete(h);
      if (this.closed) return;
      this.o.onLost(h, reason);
      this.keepSpare();
    });
    this.starting = host.start().then(
      () => {
        this.starting = undefined;
        this.hosts.add(host);
        this.o.onReady(host);
        if (!this.closed) queueMicrotask(() => this.keepSpare());
        return host;
      },
      (err: Error) => {
        this.starting = undefined;
        throw err;
      },
    );
    return this.starting;
  }

  private async stopHost(host: TenantHost): Promise<void> {
    this.hosts.delete(host);
    await host.stop(5000);
  }

  /** Total resident memory of the hosts. */
  rss(): number {
    let sum = 0;
    for (const h of this.hosts) sum += h.rss();
    return sum;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    const starting = this.starting;
    if (starting) await starting.then((h) => this.hosts.add(h), () => {});
    await Promise.all([...this.hosts].map((h) => h.stop(2000)));
    this.hosts.clear();
  }
}
