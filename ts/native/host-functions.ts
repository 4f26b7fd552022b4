/**
 * Host functions (csrc/python/host_call.h, csrc/addon/host_binding.cc): `pyhost.host.name(*args)`
 * in a group's Python runs `fn(...args)` here, on the event loop of the thread whose Engine made
 * the group, never on a Python thread. The Python thread waits (GIL released) until the value or
 * the promise settles; a throw or a rejection is pyhost.HostError in Python with its message.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { NativeAddon, NativeHostSpec } from './types.js';

/** A function Python may call: plain values in (as `group.call` passes them), a plain value or a promise of one out. */
export type HostFunction = (...args: any[]) => unknown;

/** One group's host functions, and the calls of it running now. */
export class HostBinding {
  /** Host calls running now (their Python threads wait). */
  readonly open = new Set<number>();

  constructor(
    readonly group: string,
    readonly fns: Readonly<Record<string, HostFunction>>,
    readonly threads: number,
    readonly spec: NativeHostSpec,
    private readonly owner: HostFunctions,
  ) {}

  /**
   * A call into this group from inside one of its own host functions while every worker of the
   * group waits in a host call: it could never run (the deadlock rule). The message says so.
   */
  wouldDeadlock(): string | undefined {
    const within = this.owner.running.getStore();
    if (within?.binding !== this || this.open.size < this.threads) return undefined;
    return `group ${this.group}: a call from its own host function '${within.name}' would wait forever: ` +
      `all ${this.threads} of its worker thread(s) wait for host functions. A host function must not wait on ` +
      `its own group's queue (give the group more threads, or do the work in the host function)`;
  }

  /** The group closed: its open calls fail in Python, later ones find no host. */
  close(): void {
    this.owner.unregister(this);
  }
}

interface Running {
  binding: HostBinding;
  name: string;
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

export class HostFunctions {
  private nextId = 1;
  private readonly bindings = new Map<number, HostBinding>();
  /** The host function a piece of JS runs inside (through awaits too), for wouldDeadlock. */
  readonly running = new AsyncLocalStorage<Running>();

  constructor(private readonly addon: NativeAddon) {
    addon.setHostDispatcher((hostId, callId, name, args) => this.dispatch(hostId, callId, name, args));
  }

  register(group: string, fns: Readonly<Record<string, HostFunction>>, threads: number): HostBinding {
    const id = this.nextId++;
    const binding = new HostBinding(group, fns, threads, { id, names: Object.keys(fns) }, this);
    this.bindings.set(id, binding);
    return binding;
  }

  unregister(binding: HostBinding): void {
    if (!this.bindings.delete(binding.spec.id)) return;
    for (const callId of binding.open) this.addon.settleHostCall(callId, false, `group ${binding.group} closed`);
    binding.open.clear();
  }

  private dispatch(hostId: number, callId: number, name: string, args: unknown[]): void {
    const binding = this.bindings.get(hostId);
    const fn = binding?.fns[name];
    if (!binding || !fn) {
      this.addon.settleHostCall(callId, false, `pyhost.host.${name}: its group closed`);
      return;
    }
    binding.open.add(callId);
    const settle = (ok: boolean, value: unknown) => {
      if (binding.open.delete(callId)) this.addon.settleHostCall(callId, ok, value);
    };
    let result: unknown;
    try {
      result = this.running.run({ binding, name }, () => fn(...args));
    } catch (err) {
      settle(false, message(err));
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      Promise.resolve(result).then((v) => settle(true, v), (err: unknown) => settle(false, message(err)));
    } else {
      settle(true, result);
    }
  }
}

const perAddon = new WeakMap<NativeAddon, HostFunctions>();

/** The host-function dispatcher of this thread's addon (one per thread, made on first use). */
export function hostFunctions(addon: NativeAddon): HostFunctions {
  let h = perAddon.get(addon);
  if (!h) {
    h = new HostFunctions(addon);
    perAddon.set(addon, h);
  }
  return h;
}
