/**
 * Group: an application group, the unit of isolation. `%{GLOBAL}` is the main interpreter; any
 * other name is a sub-interpreter (shared GIL, or its own GIL on Python 3.12+), created lazily
 * on first use, with its own worker threads.
 */
import { fromNative, PyhostError, PythonError } from './errors.js';
import type { Logger } from './logger.js';
import { CallKind, nativeCalls, type NativeCalls } from './native/calls.js';
import type { HostBinding, HostFunction } from './native/host-functions.js';
import type { NativeAddon, NativeCallLimits, NativeGroupHandle } from './native/types.js';
import { admit, movedWarning, movesToGlobal, refusedAdvice } from './scheduler/index.js';
import { NO_EVENTS, type SchedulerEvents } from './scheduler/events.js';

export const GLOBAL_GROUP = '%{GLOBAL}';

/** Errors a failing import can cause in other threads importing the same module at once. */
const IMPORT_SIDE_EFFECTS = /^(ImportError|ModuleNotFoundError|AttributeError|KeyError)$/;

/** Options of {@link Group.exec}, {@link Group.eval} and {@link Group.call}. */
export interface CallOptions {
  /**
   * Milliseconds the call may run (counted from when a worker starts it, not while it waits).
   * Past it, pyhost.CallTimeout (a BaseException: `except Exception` does not catch it) is raised
   * in the code, again every 10 ms until the call ends, and time.sleep ends at once; the promise
   * rejects with ERR_TIMEOUT. Code that will not stop within 2 s more rejects with ERR_STUCK (it
   * keeps its worker).
   */
  timeout?: number;
  /** Aborting it stops the call: dropped if it has not started, else interrupted (pyhost.Cancelled); the promise rejects with an AbortError. */
  signal?: AbortSignal;
}

/** How long an interrupted call may take to end before it counts as stuck. */
const STUCK_AFTER_MS = 2000;

function callLimits(o: CallOptions): NativeCallLimits | undefined {
  if (o === null || typeof o !== 'object') throw new PyhostError('ERR_INVALID_ARGUMENT', 'call options must be an object');
  const { timeout, signal } = o;
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)) {
    throw new PyhostError('ERR_INVALID_ARGUMENT', 'timeout must be a positive number of milliseconds');
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new PyhostError('ERR_INVALID_ARGUMENT', 'signal must be an AbortSignal');
  if (timeout === undefined && !signal) return undefined;
  return { timeoutMs: timeout === undefined ? 0 : Math.ceil(timeout), graceMs: STUCK_AFTER_MS, cancellable: !!signal };
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason as unknown;
  if (reason instanceof Error) return reason;
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  (err as Error & { code: string }).code = 'ABORT_ERR';
  return err;
}

/** What a group runs in now: the main interpreter, or a sub-interpreter with a shared or own GIL. */
export type GroupKind = 'main' | 'shared' | 'own';

/** Options of {@link Engine.group}. */
export interface GroupOptions {
  /** `'shared'` (default): a legacy sub-interpreter, as mod_wsgi's; `'own'`: a per-interpreter GIL (3.12+). */
  gil?: 'shared' | 'own';
  /** Worker threads (default 5). */
  threads?: number;
  /**
   * When an extension module refuses sub-interpreters: `'global'` (default) moves the group to the
   * main interpreter and logs a warning once; `'error'` lets the ImportError through, with advice.
   */
  fallback?: 'global' | 'error';
  /** Jobs allowed to wait for a worker (beyond those running); more are rejected with ERR_QUEUE_FULL. */
  queueLimit?: number;
  /**
   * `'legacy'` (default for shared-GIL groups, as mod_wsgi): single-phase extension modules load in
   * the sub-interpreter; `'strict'`: they are refused (and trigger the fallback). Own-GIL groups are
   * always strict.
   */
  extensions?: 'legacy' | 'strict';
  /** sys.path entries for this group only (processed like site.addsitedir, put first). */
  pythonPath?: string[];
  /** Take a warm interpreter from the pool (see Harness) instead of creating one, when ready. */
  pooled?: boolean;
  /**
   * Functions this group's Python may call as `pyhost.host.name(*args)`: plain values both ways;
   * a returned promise is awaited (only the calling Python thread waits, its GIL released); a
   * throw or a rejection is `pyhost.HostError` in Python. They run on this thread's event loop.
   * A host function must not wait for a call into its own group (ERR_HOST_DEADLOCK when every
   * worker of the group waits in a host function).
   */
  host?: Record<string, HostFunction>;
}

/** Options of {@link Group.iterate}. */
export interface IterateOptions extends CallOptions {
  /**
   * Values fetched per crossing (default 1: the generator advances only as the consumer asks;
   * larger batches run it up to `batch - 1` values ahead and go much faster).
   */
  batch?: number;
}

export interface ResolvedGroupOptions {
  gil: 'shared' | 'own';
  threads: number;
  fallback: 'global' | 'error';
  queueLimit: number;
  extensions: 'legacy' | 'strict';
  pythonPath: string[];
  pooled: boolean;
  host?: Readonly<Record<string, HostFunction>>;
}

export class Group {
  /** Jobs submitted and not yet finished (running or queued). */
  private inflight = 0;
  private readonly calls: NativeCalls;
  private rehomedFor: string | undefined;
  private rehomed: Promise<void> | undefined;
  /** Calls in flight (settled promises), to tell a refusal's side effects from real failures. */
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  /** @internal */
  constructor(
    readonly name: string,
    readonly options: Readonly<ResolvedGroupOptions>,
    private readonly handle: NativeGroupHandle,
    private readonly logger: Logger,
    private readonly isEngineClosed: () => boolean,
    addon: NativeAddon,
    private readonly events: SchedulerEvents = NO_EVENTS,
    private readonly host?: HostBinding,
  ) {
    this.calls = nativeCalls(addon);
  }

  /** Where the group runs now (`'main'` after a %{GLOBAL} fallback). */
  get kind(): GroupKind {
    return this.handle.info().kind;
  }

  /** Jobs submitted and not finished (running or queued). */
  get load(): number {
    return this.inflight;
  }

  /** The extension module that moved this group to %{GLOBAL}, if that happened. */
  get fallbackModule(): string | undefined {
    return this.rehomedFor;
  }

  /** Runs Python statements in the group's `__main__` namespace. */
  exec(source: string, options?: CallOptions): Promise<void> {
    if (typeof source !== 'string') return Promise.reject(new PyhostError('ERR_INVALID_ARGUMENT', 'exec(source): source must be a string'));
    return this.submitCall(CallKind.Exec, source, undefined, undefined, undefined, options) as Promise<void>;
  }

  /**
   * Evaluates a Python expression in the group's `__main__` namespace. The result converts to JS:
   * None → null, bool, int (→ number, or bigint past 2^53), float, str, bytes → Buffer,
   * list/tuple → array, dict with str keys → object; anything else rejects with ERR_CONVERSION.
   */
  eval<T = unknown>(expr: string, options?: CallOptions): Promise<T> {
    if (typeof expr !== 'string') return Promise.reject(new PyhostError('ERR_INVALID_ARGUMENT', 'eval(expr): expr must be a string'));
    return this.submitCall(CallKind.Eval, expr, undefined, undefined, undefined, options) as Promise<T>;
  }

  /**
   * Imports `module` and calls `func` (a dotted attribute path) with plain JS values as
   * arguments; the result converts as for {@link eval}.
   */
  call<T = unknown>(module: string, func: string, args: unknown[] = [], kwargs?: Record<string, unknown>, options?: CallOptions): Promise<T> {
    if (typeof module !== 'string' || !module || typeof func !== 'string' || !func) {
      return Promise.reject(new PyhostError('ERR_INVALID_ARGUMENT', 'call(module, func, args): module and func must be non-empty strings'));
    }
    if (!Array.isArray(args)) return Promise.reject(new PyhostError('ERR_INVALID_ARGUMENT', 'call(module, func, args): args must be an array'));
    return this.submitCall(CallKind.Call, module, func, args, kwargs, options) as Promise<T>;
  }

  /**
   * @internal A call into the group whose outcome comes back raw (the native error object for
   * a failure): for layers that read ERR_TIMEOUT's `value` or ERR_STUCK themselves (the harness).
   */
  callRaw(module: string, func: string, args: unknown[], limits?: NativeCallLimits): Promise<unknown> {
    return this.calls.submit(this.handle, CallKind.Call, module, func, args, undefined, limits).done;
  }

  /** A call with its options: the hard deadline (timeout), cancellation (signal), errors as PyhostErrors. */
  private submitCall(kind: CallKind, a: string, b: string | undefined, args: unknown[] | undefined,
    kwargs: Record<string, unknown> | undefined, options: CallOptions | undefined): Promise<unknown> {
    let limits: NativeCallLimits | undefined;
    const signal = options?.signal;
    if (options !== undefined) {
      try {
        limits = callLimits(options);
      } catch (err) {
        return Promise.reject(err);
      }
      if (signal?.aborted) return Promise.reject(abortError(signal));
    }
    const deadlock = this.host?.wouldDeadlock();
    if (deadlock) return Promise.reject(new PyhostError('ERR_HOST_DEADLOCK', deadlock));
    return this.submit(() => {
      const { id, done } = this.calls.submit(this.handle, kind, a, b, args, kwargs, limits);
      if (!signal) return done;
      const onAbort = () => this.calls.cancel(this.handle, id);
      signal.addEventListener('abort', onAbort, { once: true });
      return done.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          return v;
        },
        (err: { code?: string }) => {
          signal.removeEventListener('abort', onAbort);
          throw err?.code === 'ERR_CANCELLED' && signal.aborted ? abortError(signal) : err;
        },
      );
    });
  }

  /**
   * The values the generator `module.func(*args)` yields, as an async iterator. The generator
   * lives in the group's interpreter and advances only when the consumer asks (by `batch` values
   * at a time); stopping early (`break`, `return()`) closes it, so its `finally` blocks run.
   * Each value crosses as a `call` result does. Options as for {@link Group.call}, per fetch.
   */
  async *iterate<T = unknown>(module: string, func: string, args: unknown[] = [], options: IterateOptions = {}): AsyncGenerator<T, void, undefined> {
    const { batch = 1, ...callOptions } = options ?? {};
    if (!Number.isInteger(batch) || batch < 1 || batch > 1_000_000) {
      throw new PyhostError('ERR_INVALID_ARGUMENT', 'batch must be an integer from 1 to 1,000,000');
    }
    const handle = await this.call<number>('_pyhost', 'iter_start', [module, func, args], undefined, callOptions);
    let done = false;
    try {
      while (!done) {
        const [end, values] = await this.call<[boolean, T[]]>('_pyhost', 'iter_next', [handle, batch], undefined, callOptions);
        done = end;
        for (const v of values) yield v;
      }
    } finally {
      // Stopped early, or failed: the generator is closed in Python (a no-op if it already ended).
      if (!done && !this.closed) await this.call('_pyhost', 'iter_close', [handle]).catch(() => undefined);
    }
  }

  /** Jobs waiting or running, and workers busy. */
  stats(): { inflight: number; queued: number; busy: { thread: number; busyMs: number }[]; kind: GroupKind } {
    const info = this.handle.info();
    return { inflight: this.inflight, queued: info.queued + this.calls.queuedFor(this.handle), busy: info.busy, kind: info.kind };
  }

  /** @internal the native handle, for the WSGI layer. */
  get native(): NativeGroupHandle {
    return this.handle;
  }

  /** @internal admission control shared with requests: throws ERR_QUEUE_FULL / ERR_ENGINE_CLOSED. */
  admit(): void {
    if (this.closed || this.isEngineClosed()) throw new PyhostError('ERR_ENGINE_CLOSED', `group ${this.name}: the engine is closed`);
    admit(this.name, { inflight: this.inflight, threads: this.options.threads, queueLimit: this.options.queueLimit });
  }

  /** @internal */
  enter(): void {
    this.inflight++;
  }

  /** @internal */
  leave(): void {
    this.inflight--;
  }

  /**
   * @internal Applies the fallback policy to an error from this group: resolves true when the
   * group was moved to %{GLOBAL} (its sys.path entries added there) and the job should be
   * retried there.
   */
  async handleRefusal(err: PyhostError): Promise<boolean> {
    if (!(err instanceof PythonError) || !err.refusedModule) return false;
    if (movesToGlobal(this.options.fallback)) {
      if (this.rehomed === undefined) {
        this.rehomedFor = err.refusedModule;
        this.handle.rehome();
        // The group's own sys.path entries, in %{GLOBAL} now (python/bootstrap.py's add_paths).
        this.rehomed = this.options.pythonPath.length
          ? this.callRaw('_pyhost', 'add_paths', [this.options.pythonPath]).then(() => undefined)
          : Promise.resolve();
        this.logger.warn(movedWarning(this.name, err.refusedModule), this.name);
        this.events.fellBack(this.name, '');
      }
      await this.rehomed;
      return true;
    }
    (err as { message: string }).message += ' ' + refusedAdvice(this.name, err.refusedModule);
    return false;
  }

  /**
   * Admits a call and runs it. The path a call that succeeds takes is one `then` (no async
   * function, no race): at hundreds of thousands of calls a second, each promise counts.
   */
  private submit(op: () => Promise<unknown>): Promise<unknown> {
    try {
      this.admit();
    } catch (err) {
      return Promise.reject(err);
    }
    this.inflight++;
    const movedBefore = this.rehomed;
    let attempt: Promise<unknown>;
    try {
      attempt = op();
    } catch (err) {
      attempt = Promise.reject(err); // arguments that cannot pass to Python throw synchronously
    }
    this.running.add(attempt);
    return attempt.then(
      (value) => {
        this.running.delete(attempt);
        this.inflight--;
        return value;
      },
      (raw) => this.failed(raw, attempt, op, movedBefore).finally(() => this.inflight--),
    );
  }

  /** A call failed: the %{GLOBAL} fallback may move the group and retry it there. */
  private async failed(raw: unknown, attempt: Promise<unknown>, op: () => Promise<unknown>, movedBefore: Promise<void> | undefined): Promise<unknown> {
    this.running.delete(attempt);
    if (raw instanceof Error && raw.name === 'AbortError') throw raw;
    const err = fromNative(raw);
    if (err.code === 'ERR_TIMEOUT') this.events.timedOut(this.name, '', 'call');
    let moved = await this.handleRefusal(err);
    if (!moved && movedBefore === undefined && this.options.fallback === 'global' && this.running.size > 0 &&
        err instanceof PythonError && IMPORT_SIDE_EFFECTS.test(err.type)) {
      // Another call running beside this one may be refusing an extension right now, and this
      // failure its side effect (CPython hands threads waiting on a failing import the broken
      // module): let those calls settle, and retry in %{GLOBAL} if the group moved.
      await Promise.allSettled([...this.running]);
    }
    moved ||= this.rehomed !== undefined && this.rehomed !== movedBefore;
    if (!moved) throw err;
    await this.rehomed;
    try {
      return await op();
    } catch (again) {
      throw fromNative(again);
    }
  }

  /** @internal */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host?.close();
    this.handle.close();
  }
}
