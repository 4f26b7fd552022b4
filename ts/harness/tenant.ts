/**
 * Tenant: one isolated Python tenant of a Harness, an application group of its own (its own
 * sys.modules, sys.path, __main__, output capture and os.environ view), in a tenant host process
 * (isolation 'process') or in the harness's process ('interpreter').
 *
 * Its calls resolve with a RunResult whatever the tenant's code does (see results.ts); only
 * misuse of the API rejects. When its host process dies, the tenant is re-created from its
 * declarative set-up in a fresh host: `restarts` counts that, and the harness emits 'restart'.
 */
import { PyhostError } from '../errors.js';
import type { InProcessRequest } from '../http/in-process.js';
import { failedResponse, failedResult, type RequestResult, type RunResult } from './results.js';
import { runResultOf, type CallLimits, type Placement, type TenantRuntime } from './tenant-runtime.js';

export type { Placement } from './tenant-runtime.js';
export type { RunResult } from './results.js';

export interface RunOptions {
  /**
   * Milliseconds the call may run (counted from when it starts running, not while it waits
   * behind another call); past it pyhost.TenantTimeout, a BaseException, is raised in it, again
   * and again until it ends, and blocking waits (time.sleep, lock acquires, socket reads) end.
   */
  timeout?: number;
}

export type RequestOptions = InProcessRequest & RunOptions;

/** What the tenant was created with: enough to create it again. */
export interface TenantSpec {
  name: string;
  pythonPath: string[];
  env: Record<string, string>;
  preload: string[];
  requires: string[];
}

/** A tenant's place: its runtime, and why it is not where the harness would put it. */
export interface TenantSetup {
  runtime: TenantRuntime;
  fallbackReason?: string;
}

/** What a tenant needs from its harness. */
export interface TenantOwner {
  readonly isolation: 'process' | 'interpreter';
  /** Milliseconds an interrupted call may take to end. */
  readonly graceMs: number;
  readonly maxOutput: number;
  readonly maxValue: number;
  /** A fresh interpreter with the tenant's set-up (reset). */
  recreate(tenant: Tenant): Promise<TenantSetup>;
  /** Stops the tenant's threads and ends the interpreter of a set-up it no longer uses. */
  retire(tenant: Tenant, setup: TenantSetup): Promise<void>;
  /**
   * A call would not stop: 'process' kills its host (settles once the tenant's re-creation has
   * begun); else the tenant is quarantined.
   */
  stuck(tenant: Tenant, runtime: TenantRuntime): Promise<void>;
  /** The tenant is closed. */
  forget(tenant: Tenant): void;
}

export class Tenant {
  /** Stuck in C code past a timeout, or would not close (isolation 'interpreter'): no longer used. */
  quarantined = false;
  quarantineReason: string | undefined;
  /** Times the tenant was re-created because its host process died (its in-memory state was lost). */
  restarts = 0;
  private closed = false;
  /** Settles once the tenant can take calls (it is being re-created after a crash otherwise). */
  private ready: Promise<void> = Promise.resolve();

  /** @internal */
  constructor(
    readonly spec: TenantSpec,
    private setup: TenantSetup,
    private readonly owner: TenantOwner,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** Where the tenant runs: its own-GIL or shared-GIL sub-interpreter, or %{GLOBAL}. */
  get placement(): Placement {
    return this.setup.runtime.placement;
  }

  /** Why the tenant is not in a sub-interpreter of the harness's kind (preflight), if so. */
  get fallbackReason(): string | undefined {
    return this.setup.fallbackReason;
  }

  /** @internal where the tenant runs now. */
  get runtime(): TenantRuntime {
    return this.setup.runtime;
  }

  private checkOpen(timeout: unknown): void {
    if (this.closed) throw new PyhostError('ERR_TENANT_CLOSED', `tenant ${this.name} is closed`);
    if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)) {
      throw new PyhostError('ERR_INVALID_ARGUMENT', 'timeout must be a positive number of milliseconds');
    }
  }

  private limits(timeout: number | undefined): CallLimits | undefined {
    return timeout === undefined ? undefined : { timeoutMs: Math.ceil(timeout), graceMs: this.owner.graceMs };
  }

  private callLimits(): { maxOutput: number; maxValue: number } {
    return { maxOutput: this.owner.maxOutput, maxValue: this.owner.maxValue };
  }

  /** Runs Python statements in the tenant's `__main__`; a final expression's value is returned. */
  async run(code: string, options: RunOptions = {}): Promise<RunResult> {
    if (typeof code !== 'string') throw new PyhostError('ERR_INVALID_ARGUMENT', 'run(code): code must be a string');
    this.checkOpen(options.timeout);
    return this.invoke(['run', code, this.callLimits()], options.timeout);
  }

  /** Calls `'pkg.module:function'` with JSON-able arguments. */
  async call(target: string, args: unknown[] = [], options: RunOptions & { kwargs?: Record<string, unknown> } = {}): Promise<RunResult> {
    if (typeof target !== 'string' || !/^[\w.]+(:[\w.]+)?$/.test(target)) {
      throw new PyhostError('ERR_INVALID_ARGUMENT', `call(target): expected 'package.module:function', got ${JSON.stringify(target)}`);
    }
    if (!Array.isArray(args)) throw new PyhostError('ERR_INVALID_ARGUMENT', 'call(target, args): args must be an array');
    this.checkOpen(options.timeout);
    return this.invoke(['call', target, args, options.kwargs ?? {}, this.callLimits()], options.timeout);
  }

  private async invoke(request: unknown[], timeout: number | undefined): Promise<RunResult> {
    const t0 = performance.now();
    await this.ready;
    if (this.quarantined) return failedResult('QUARANTINED', `tenant ${this.name} is quarantined: ${this.quarantineReason}`, 0);
    if (this.closed) throw new PyhostError('ERR_TENANT_CLOSED', `tenant ${this.name} is closed`);
    const runtime = this.setup.runtime;
    const outcome = await runtime.dispatch(request, this.limits(timeout));
    const elapsed = performance.now() - t0;
    if (outcome.kind === 'stuck') return await this.onStuck(runtime, timeout ?? 0, elapsed);
    const result = runResultOf(outcome, elapsed);
    if (result.error?.code === 'TIMEOUT' && !result.error.message) result.error.message = `timed out after ${timeout} ms`;
    return result;
  }

  private async onStuck(runtime: TenantRuntime, timeout: number, elapsed: number): Promise<RunResult> {
    const grace = this.owner.graceMs;
    await this.owner.stuck(this, runtime);
    if (this.owner.isolation === 'process') {
      return failedResult('TIMEOUT', `timed out after ${timeout} ms and did not stop within ${grace} ms: its host process was ` +
        `replaced, and tenant ${this.name} re-created (its state is gone)`, elapsed);
    }
    return failedResult('QUARANTINED', `timed out after ${timeout} ms and could not be stopped within ${grace} ms ` +
      `(stuck in C code that holds the GIL, or catching every exception); tenant ${this.name} is quarantined`, elapsed);
  }

  /**
   * Calls the tenant's WSGI application (`'pkg.module:app'` or a script path) through the same
   * gateway as HTTP, without a socket. With `timeout`, an application still running gets 504
   * (error TIMEOUT); a crash of its host, 502 (CRASHED).
   */
  async request(app: string, options: RequestOptions = {}): Promise<RequestResult> {
    if (typeof app !== 'string' || !app) throw new PyhostError('ERR_INVALID_ARGUMENT', 'request(app): app must be a non-empty string');
    this.checkOpen(options.timeout);
    await this.ready;
    if (this.quarantined) return failedResponse('QUARANTINED', `tenant ${this.name} is quarantined: ${this.quarantineReason}`);
    const { timeout, ...request } = options;
    const runtime = this.setup.runtime;
    const t0 = performance.now();
    const outcome = await runtime.request(app, request, this.limits(timeout));
    switch (outcome.kind) {
      case 'crashed':
        return failedResponse('CRASHED', `the tenant's host process died (${outcome.reason})`);
      case 'stuck':
        return failedResponse((await this.onStuck(runtime, timeout ?? 0, performance.now() - t0)).error!.code, 'the application could not be stopped');
      case 'done':
        if (outcome.interrupted) return failedResponse('TIMEOUT', `the application ran past its timeout of ${timeout} ms`);
        return { ...outcome.response, error: null };
    }
  }

  /** A fresh interpreter with the same set-up (Python has no in-place reset); the old one's threads are stopped. */
  async reset(): Promise<void> {
    this.checkOpen(undefined);
    await this.ready;
    const old = this.setup;
    this.setup = await this.owner.recreate(this);
    this.quarantined = false;
    this.quarantineReason = undefined;
    await this.owner.retire(this, old);
  }

  /** Stops the tenant's threads and ends its interpreter (quarantined if it will not stop). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ready.catch(() => {});
    this.owner.forget(this);
    await this.owner.retire(this, this.setup);
  }

  /** @internal the harness re-creates the tenant after its host died; calls wait for it. */
  recreating(done: Promise<TenantSetup>): void {
    this.restarts++;
    this.ready = done.then(
      (setup) => {
        this.setup = setup;
      },
      (err: Error) => {
        this.quarantine(`it could not be re-created after its host process died: ${err.message}`);
      },
    );
  }

  /** @internal */
  quarantine(reason: string): void {
    if (this.quarantined) return;
    this.quarantined = true;
    this.quarantineReason = reason;
  }

  /** @internal the harness closed: its host processes end the interpreter. */
  markClosed(): void {
    this.closed = true;
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }
}
