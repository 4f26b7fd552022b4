/**
 * A tenant in an application group of this process (isolation 'interpreter'): for trusted code.
 * Its calls and requests run on the group's worker; what a sub-interpreter cannot contain (an
 * exit, a crash, code stuck in C) reaches the whole process.
 */
import type { Engine } from '../engine.js';
import type { Group } from '../group.js';
import { EmbeddedBackend } from '../http/embedded.js';
import { requestInProcess, type InProcessRequest } from '../http/in-process.js';
import type { NativeCallLimits } from '../native/types.js';
import type { CallLimits, DispatchOutcome, Placement, RequestOutcome, TenantRuntime } from './tenant-runtime.js';

function nativeLimits(limits: CallLimits | undefined): NativeCallLimits | undefined {
  return limits && { timeoutMs: limits.timeoutMs, graceMs: limits.graceMs, cancellable: true };
}

export class InterpreterRuntime implements TenantRuntime {
  private readonly apps = new Map<string, EmbeddedBackend>();

  constructor(
    private readonly engine: Engine,
    readonly group: Group,
    readonly placement: Placement,
  ) {}

  get groupName(): string {
    return this.group.name;
  }

  async dispatch(request: unknown[], limits?: CallLimits): Promise<DispatchOutcome> {
    try {
      // The arguments cross as values (no JSON on the way in); the result comes back as JSON text.
      const out = await this.group.callRaw('_pyhost_tenant', 'dispatch_args', request, nativeLimits(limits));
      return { kind: 'done', text: out as string };
    } catch (raw) {
      const e = raw as { code?: string; type?: string; message?: string; pythonMessage?: string; value?: unknown };
      if (e.code === 'ERR_STUCK') return { kind: 'stuck' };
      if (e.code === 'ERR_TIMEOUT' || e.code === 'ERR_CANCELLED') {
        const interrupted = e.code === 'ERR_TIMEOUT' ? 'timeout' : 'cancelled';
        if (typeof e.value === 'string') return { kind: 'done', text: e.value, interrupted };
        return { kind: 'failed', message: `${e.type ?? 'Error'}: ${e.pythonMessage ?? e.message}`, interrupted };
      }
      return { kind: 'failed', message: `${e.type ?? e.code ?? 'Error'}: ${e.message}` };
    }
  }

  request(app: string, options: InProcessRequest, limits?: CallLimits): Promise<RequestOutcome> {
    let backend = this.apps.get(app);
    if (!backend) {
      const isModule = /^[\w.]+:[\w.]+$/.test(app);
      backend = new EmbeddedBackend(this.engine.native, () => this.group, { target: app, isModule, callable: 'application', reload: false });
      this.apps.set(app, backend);
    }
    let interrupted: 'timeout' | undefined;
    let onStuck!: (o: RequestOutcome) => void;
    const stuck = new Promise<RequestOutcome>((resolve) => (onStuck = resolve));
    const done = requestInProcess(backend, this.group.name, options, {
      limits: nativeLimits(limits),
      onInterrupted: (kind) => {
        if (kind === 'stuck') onStuck({ kind: 'stuck' });
        else interrupted = kind;
      },
    }).then((response): RequestOutcome => ({ kind: 'done', response, interrupted }));
    return Promise.race([done, stuck]);
  }

  async drop(waitMs: number): Promise<'ended' | 'stuck'> {
    this.apps.clear();
    return (await this.engine.dropGroup(this.group.name, waitMs)) === 'ended' ? 'ended' : 'stuck';
  }
}
