/**
 * The JavaScript half of batched calls (csrc/addon/call_results.h): exec/eval/call go to the
 * native side in one submitCalls per group per turn of the event loop, and their outcomes come
 * back as one batch per loop turn; each call's promise is a plain JS one, settled from the batch.
 * Outcomes are raw: a value, undefined, or the native error object (callers convert errors).
 */
import { CallOutcome, type NativeAddon, type NativeCallLimits, type NativeGroupHandle } from './types.js';

export const enum CallKind {
  Exec = 0,
  Eval = 1,
  Call = 2,
}

/** Fields per call in a submitCalls batch (csrc/addon/group_binding.cc, kOpFields). */
const OP_FIELDS = 7;

interface Pending {
  resolve(value: unknown): void;
  reject(raw: unknown): void;
}

export class NativeCalls {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queued = new Map<NativeGroupHandle, unknown[]>();
  private flushing = false;

  constructor(addon: NativeAddon) {
    addon.setCallResults((ids, outcomes, kinds) => this.settle(ids, outcomes, kinds));
  }

  /** Queues a call; resolves with its raw outcome, or rejects with the raw native error. */
  submit(
    handle: NativeGroupHandle,
    kind: CallKind,
    a: string,
    b: string | undefined,
    args: unknown[] | undefined,
    kwargs: Record<string, unknown> | undefined,
    limits: NativeCallLimits | undefined,
  ): { id: number; done: Promise<unknown> } {
    const id = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    const done = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    let ops = this.queued.get(handle);
    if (!ops) {
      ops = [];
      this.queued.set(handle, ops);
    }
    ops.push(id, kind, a, b, args, kwargs, limits);
    if (!this.flushing) {
      this.flushing = true;
      // After the callers of this turn (a batch's continuations each submit their next call).
      queueMicrotask(() => this.flush());
    }
    return { id, done };
  }

  /**
   * A call not sent yet is dropped here (rejected with ERR_CANCELLED); a sent one is cancelled
   * natively (stopped before it runs, or interrupted). False if it has ended.
   */
  cancel(handle: NativeGroupHandle, id: number): boolean {
    const ops = this.queued.get(handle);
    if (ops) {
      for (let i = 0; i < ops.length; i += OP_FIELDS) {
        if (ops[i] !== id) continue;
        ops.splice(i, OP_FIELDS);
        const p = this.pending.get(id);
        this.pending.delete(id);
        p?.reject({ code: 'ERR_CANCELLED', message: 'the call was cancelled before it was sent' });
        return true;
      }
    }
    return this.pending.has(id) && handle.cancel(id);
  }

  /** Calls for `handle` not sent yet (they go with the next batch, at the end of this turn). */
  queuedFor(handle: NativeGroupHandle): number {
    return (this.queued.get(handle)?.length ?? 0) / OP_FIELDS;
  }

  private flush(): void {
    this.flushing = false;
    for (const [handle, ops] of this.queued) {
      this.queued.delete(handle);
      try {
        handle.submitCalls(ops);
      } catch (err) {
        // The group's handle refused the whole batch (it is closed): every call in it fails.
        for (let i = 0; i < ops.length; i += OP_FIELDS) {
          const p = this.pending.get(ops[i] as number);
          this.pending.delete(ops[i] as number);
          p?.reject(err);
        }
      }
    }
  }

  /**
   * Rejects every call still waiting for an outcome (Engine.close() gave up on Python: a thread
   * never released its GIL): they would otherwise stay pending forever.
   */
  abandonAll(err: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
  }

  private settle(ids: number[], outcomes: unknown[], kinds: number[]): void {
    for (let i = 0; i < ids.length; i++) {
      const p = this.pending.get(ids[i]);
      if (!p) continue; // settled already (stuck, then its real end; or cancelled before it was sent)
      this.pending.delete(ids[i]);
      if (kinds[i] === CallOutcome.Error) p.reject(outcomes[i]);
      else p.resolve(kinds[i] === CallOutcome.Undefined ? undefined : outcomes[i]);
    }
  }
}

const perAddon = new WeakMap<NativeAddon, NativeCalls>();

/** The batched calls of an addon instance (one per Node environment). */
export function nativeCalls(addon: NativeAddon): NativeCalls {
  let calls = perAddon.get(addon);
  if (!calls) {
    calls = new NativeCalls(addon);
    perAddon.set(addon, calls);
  }
  return calls;
}
