/**
 * Where a tenant's interpreter lives, behind one interface: an application group of this process
 * (isolation 'interpreter', ./interpreter-runtime.ts) or of a tenant host process (isolation
 * 'process', ./host-runtime.ts). A runtime executes; the harness and the tenant decide (what a
 * stuck call or a crash means, where a tenant goes).
 */
import type { CollectedResponse } from '../http/collecting-writer.js';
import type { InProcessRequest } from '../http/in-process.js';
import type { Placement } from '../scheduler/fallback.js';
import { failedResult, type RunResult, type TenantErrorCode } from './results.js';

export type { Placement };

/** A call's hard deadline: interrupted after `timeoutMs` of running, stuck `graceMs` later. */
export interface CallLimits {
  timeoutMs: number;
  graceMs: number;
}

/** How a call into the tenant module (`_pyhost_tenant.dispatch`) came back. */
export type DispatchOutcome =
  /** dispatch's JSON text; `interrupted` if the deadline interrupted the call. */
  | { kind: 'done'; text: string; interrupted?: 'timeout' | 'cancelled' }
  /** dispatch itself raised (an interrupt landing outside the tenant's code, a broken tenant module). */
  | { kind: 'failed'; message: string; interrupted?: 'timeout' | 'cancelled' }
  /** Interrupted, and not ended within the grace period: it still runs. */
  | { kind: 'stuck' }
  /** The host process died under it. */
  | { kind: 'crashed'; reason: string };

export type RequestOutcome =
  | { kind: 'done'; response: CollectedResponse; interrupted?: 'timeout' | 'cancelled' }
  | { kind: 'stuck' }
  | { kind: 'crashed'; reason: string };

export interface TenantRuntime {
  readonly placement: Placement;
  /** The application group's name (in its process). */
  readonly groupName: string;
  /** `_pyhost_tenant.dispatch(JSON.stringify(request))`, with a hard deadline if `limits`. */
  dispatch(request: unknown[], limits?: CallLimits): Promise<DispatchOutcome>;
  /** A WSGI request to `app` ('pkg.module:callable' or a script path) through the gateway. */
  request(app: string, options: InProcessRequest, limits?: CallLimits): Promise<RequestOutcome>;
  /** Ends the group's interpreter: 'stuck' if it could not be ended within `waitMs`. */
  drop(waitMs: number): Promise<'ended' | 'stuck'>;
}

/** Sets up a tenant module call's outcome as a RunResult. */
export function runResultOf(outcome: DispatchOutcome, elapsedMs: number): RunResult {
  switch (outcome.kind) {
    case 'done': {
      const r = JSON.parse(outcome.text) as RunResult;
      if (!r.error && outcome.interrupted) {
        r.error = { code: 'TIMEOUT', type: '', message: 'the call ran past its timeout', traceback: '' };
      }
      return r;
    }
    case 'failed': {
      const code: TenantErrorCode = outcome.interrupted ? 'TIMEOUT' : 'EXCEPTION';
      const colon = outcome.message.indexOf(': ');
      const type = colon > 0 ? outcome.message.slice(0, colon) : '';
      return failedResult(code, colon > 0 ? outcome.message.slice(colon + 2) : outcome.message, elapsedMs, type);
    }
    case 'stuck':
      return failedResult('QUARANTINED', 'the call could not be stopped', elapsedMs);
    case 'crashed':
      return failedResult('CRASHED', `the tenant's host process died (${outcome.reason})`, elapsedMs);
  }
}
