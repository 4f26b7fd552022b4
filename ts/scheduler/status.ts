/**
 * Which HTTP status pyhost answers with when it answers for an application: the one mapping from
 * error codes (the native side gets the same table: see unavailableCodes in policy.ts).
 */
import { schedulerPolicy } from './policy.js';

export interface StatusAnswer {
  status: number;
  reason: string;
}

const REASONS: Record<number, string> = {
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The answer for a request that could not be handed to its application because of `code`. */
export function statusForError(code: string | undefined): StatusAnswer {
  const p = schedulerPolicy();
  const status = code && p.unavailableCodes.includes(code) ? 503 : code && p.notFoundCodes.includes(code) ? 404 : 500;
  return { status, reason: REASONS[status] };
}

/** The table the native gateway answers with (it answers for an application that never ran). */
export function errorStatusTable(): [string, number][] {
  const p = schedulerPolicy();
  return [...p.unavailableCodes.map((c): [string, number] => [c, 503]), ...p.notFoundCodes.map((c): [string, number] => [c, 404])];
}

/** The same table as pyhost-daemon arguments (--error-status CODE=STATUS ...). */
export function errorStatusArgs(): string[] {
  return errorStatusTable().flatMap(([code, status]) => ['--error-status', `${code}=${status}`]);
}
