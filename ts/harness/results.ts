/**
 * What a tenant call resolves with: one shape for every outcome. Tenant code that fails (an
 * exception, sys.exit, a timeout, a crash of its host process, ...) never rejects the promise: the
 * failure is `result.error`, with a code. Only misuse of the API rejects.
 */
import type { CollectedResponse } from '../http/collecting-writer.js';

/**
 * - `EXCEPTION`: the code raised an exception.
 * - `TIMEOUT`: it ran past its timeout and was stopped (pyhost.TenantTimeout was raised in it).
 * - `EXIT`: it called sys.exit() (or raised SystemExit).
 * - `CRASHED`: its host process died (os._exit, abort, a signal, a segfault, the OOM killer):
 *   the message names the exit status or signal; the tenant was re-created (`tenant.restarts`).
 * - `MEMORY`: it ran out of memory (MemoryError, or past `memoryLimit`).
 * - `OUTPUT_LIMIT`: it printed 16 times `maxOutput`, or returned a value over `maxValue`.
 * - `QUARANTINED`: it could not be stopped (isolation 'interpreter': C code that holds the GIL,
 *   or code that catches every exception), or the tenant was quarantined before.
 */
export type TenantErrorCode = 'EXCEPTION' | 'TIMEOUT' | 'EXIT' | 'CRASHED' | 'MEMORY' | 'OUTPUT_LIMIT' | 'QUARANTINED';

export interface TenantError {
  code: TenantErrorCode;
  /** The Python exception's qualified type name ('' when no exception was involved). */
  type: string;
  message: string;
  /** The tenant's part of the traceback ('' when there is none). */
  traceback: string;
}

/** The outcome of {@link Tenant.run} or {@link Tenant.call}. */
export interface RunResult {
  /** The value (JSON-able data) of the final expression / the function's return value. */
  value: unknown;
  /** What the code printed to sys.stdout during the call (the first `maxOutput` characters). */
  stdout: string;
  stderr: string;
  /** More was printed than `maxOutput`: the rest was dropped. */
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  error: TenantError | null;
  /** Milliseconds the code ran (measured in Python; for a crash or quarantine, in Node). */
  ms: number;
}

/** The outcome of {@link Tenant.request}: the response, or (error) why there is none. */
export interface RequestResult extends CollectedResponse {
  /** null when the application answered (any status); else TIMEOUT, CRASHED or QUARANTINED. */
  error: TenantError | null;
}

/** A result for a call that produced nothing of its own (a crash, a quarantine). */
export function failedResult(code: TenantErrorCode, message: string, ms: number, type = ''): RunResult {
  return { value: null, stdout: '', stderr: '', stdoutTruncated: false, stderrTruncated: false, error: { code, type, message, traceback: '' }, ms };
}

/** The status pyhost answers with when a tenant's application could not (504 timeout, 502 crash, 503 quarantine). */
export function failedResponse(code: TenantErrorCode, message: string): RequestResult {
  const status = code === 'TIMEOUT' ? 504 : code === 'CRASHED' ? 502 : 503;
  const reason = status === 504 ? 'Gateway Timeout' : status === 502 ? 'Bad Gateway' : 'Service Unavailable';
  return {
    status,
    reason,
    headers: [['Content-Type', 'text/plain; charset=utf-8']],
    body: Buffer.from(message + '\n'),
    aborted: false,
    error: { code, type: '', message, traceback: '' },
  };
}
