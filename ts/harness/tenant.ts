/**
 * Tenant: one isolated Python tenant of a Harness, an application group of its own (its own
 * sys.modules, sys.path, __main__, stdout/stderr capture and os.environ view).
 */
import { PyhostError, PythonError } from '../errors.js';
import type { Group } from '../group.js';
import type { CollectedResponse } from '../http/collecting-writer.js';
import { EmbeddedBackend } from '../http/embedded.js';
import { requestInProcess, type InProcessRequest } from '../http/in-process.js';
import type { NativeAddon } from '../native/types.js';

/** Where a tenant runs. */
export type Placement = 'own' | 'shared' | 'global';

/** The outcome of {@link Tenant.run} or {@link Tenant.call}. */
export interface RunResult {
  /** The value (JSON-able data) of the final expression / the function's return value. */
  value: unknown;
  /** What the code printed to sys.stdout during the call. */
  stdout: string;
  stderr: string;
  /** The exception, if one ended the call (TimeoutError for a timeout). */
  error: { type: string; message: string; traceback: string } | null;
  /** Milliseconds the code ran (measured in Python). */
  ms: number;
}

export interface RunOptions {
  /** Milliseconds; past it a TimeoutError is raised inside the tenant. */
  timeout?: number;
}

export type { InProcessRequest as RequestOptions } from '../http/in-process.js';

/** How long a timed-out call may take to unwind before the tenant is quarantined. */
export const QUARANTINE_GRACE_MS = 2000;

export interface TenantSetup {
  group: Group;
  placement: Placement;
  fallbackReason?: string;
}

export class Tenant {
  /** Stuck in C code past a timeout, or would not close: no longer used. */
  quarantined = false;
  quarantineReason: string | undefined;
  private closed = false;
  private readonly apps = new Map<string, EmbeddedBackend>();

  /** @internal */
  constructor(
    readonly name: string,
    private setup: TenantSetup,
    private readonly addon: NativeAddon,
    private readonly recreate: () => Promise<TenantSetup>,
    private readonly release: (t: Tenant, group: Group) => Promise<void>,
  ) {}

  /** Where the tenant runs: its own-GIL or shared-GIL sub-interpreter, or %{GLOBAL}. */
  get placement(): Placement {
    return this.setup.placement;
  }

  /** Why the tenant is not in a sub-interpreter of the harness's kind (preflight), if so. */
  get fallbackReason(): string | undefined {
    return this.setup.fallbackReason;
  }

  /** @internal */
  get group(): Group {
    return this.setup.group;
  }

  private check(): void {
    if (this.closed) throw new PyhostError('ERR_TENANT_CLOSED', `tenant ${this.name} is closed`);
    if (this.quarantined) throw new PyhostError('ERR_TENANT_QUARANTINED', `tenant ${this.name} is quarantined: ${this.quarantineReason}`);
  }

  /** Runs Python statements in the tenant's `__main__`; a final expression's value is returned. */
  run(code: string, options: RunOptions = {}): Promise<RunResult> {
    if (typeof code !== 'string') return Promise.reject(new PyhostError('ERR_INVALID_ARGUMENT', 'run(code): code must be a string'));
    return this.invoke(() => this.setup.group.call<RunResult>('_pyhost_tenant', 'run', [code]), options);
  }

  /** Calls `'pkg.module:function'` with JSON-able arguments. */
  call(target: string, args: unknown[] = [], options: RunOptions & { kwargs?: Record<string, unknown> } = {}): Promise<RunResult> {
    if (typeof target !== 'string' || !/^[\w.]+(:[\w.]+)?$/.test(target)) {
      return Promise.reject(new PyhostError('ERR_INVALID_ARGUMENT', `call(target): expected 'package.module:function', got ${JSON.stringify(target)}`));
    }
    return this.invoke(() => this.setup.group.call<RunResult>('_pyhost_tenant', 'call', [target, args, options.kwargs ?? {}]), options);
  }

  private async invoke(start: () => Promise<RunResult>, options: RunOptions): Promise<RunResult> {
    this.check();
    const timeout = options.timeout;
    if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0)) {
      throw new PyhostError('ERR_INVALID_ARGUMENT', 'timeout must be a positive number of milliseconds');
    }
    const native = this.setup.group.native;
    const pending = start();
    if (timeout === undefined) return pending;
    const seq = native.lastSeq;
    let timer: NodeJS.Timeout | undefined;
    let grace: NodeJS.Timeout | undefined;
    const stuck = new Promise<RunResult>((resolve) => {
      timer = setTimeout(() => {
        // A thread state of the tenant's own interpreter raises TimeoutError in the running code.
        void native.interrupt(seq, 'TimeoutError');
        grace = setTimeout(() => {
          this.quarantine(`code did not stop within ${QUARANTINE_GRACE_MS} ms of its ${timeout} ms timeout (stuck in C code that holds the GIL?)`);
          resolve({
            value: null,
            stdout: '',
            stderr: '',
            error: { type: 'TimeoutError', message: `timed out after ${timeout} ms and could not be stopped; tenant ${this.name} is quarantined`, traceback: '' },
            ms: timeout + QUARANTINE_GRACE_MS,
          });
        }, QUARANTINE_GRACE_MS);
      }, timeout);
    });
    try {
      return await Promise.race([pending, stuck]);
    } finally {
      clearTimeout(timer);
      clearTimeout(grace);
    }
  }

  private quarantine(reason: string): void {
    if (this.quarantined) return;
    this.quarantined = true;
    this.quarantineReason = reason;
  }

  /**
   * Calls the tenant's WSGI application (`'pkg.module:app'` or a script path) through the same
   * gateway as HTTP, without a socket.
   */
  async request(app: string, options: InProcessRequest = {}): Promise<CollectedResponse> {
    this.check();
    let backend = this.apps.get(app);
    if (!backend) {
      const isModule = /^[\w.]+:[\w.]+$/.test(app);
      backend = new EmbeddedBackend(this.addon, () => this.setup.group, { target: app, isModule, callable: 'application', reload: false });
      this.apps.set(app, backend);
    }
    return requestInProcess(backend, this.setup.group.name, options);
  }

  /** A fresh interpreter with the same options (Python has no in-place reset). */
  async reset(): Promise<void> {
    this.check();
    const old = this.setup.group;
    this.setup = await this.recreate();
    this.apps.clear();
    await this.release(this, old);
  }

  /** Stops the tenant's threads and ends its interpreter (quarantined if it will not stop). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release(this, this.setup.group);
  }

  /** @internal */
  markQuarantined(reason: string): void {
    this.quarantine(reason);
  }

  /** @internal */
  throwIfPythonError(r: RunResult): RunResult {
    if (r.error) throw new PythonError(r.error.type, r.error.message, r.error.traceback);
    return r;
  }
}
