import { PyhostError } from '../errors.js';

/**
 * The scheduler's policy as data: what the rest of ts/scheduler decides with. A benchmark (or a
 * host) may vary it with setSchedulerPolicy; the defaults are what pyhost ships.
 */
export interface SchedulerPolicy {
  /** Jobs allowed to wait for a worker beyond those running, per group, unless the group says. */
  defaultQueueLimit: number;
  /** Timeout checks run every tenth of the shortest timeout, within these bounds (ms). */
  minTickMs: number;
  maxTickMs: number;
  /** Error codes that mean "try again later" (503) rather than a failure (500). */
  unavailableCodes: readonly string[];
  /** Error codes that mean the application is not there (404). */
  notFoundCodes: readonly string[];
  /**
   * After an exec/eval/call, a worker whose group fell idle polls for the next call for up to
   * this many µs before it sleeps (one worker in the process at a time; a group whose polls find
   * nothing backs off). It saves a caller that awaits each result two thread wake-ups per call
   * (bench/README.md, "Call path"); 0 turns it off. HTTP requests never spin: on 2 cores the
   * poll took CPU the Node front and the load needed. Applies to groups created afterwards.
   */
  idleSpinMicros: number;
  /**
   * After submitting exec/eval/call, Node's event loop polls for their outcomes for up to this many
   * µs instead of sleeping until a worker wakes it (its turns go on: timers and I/O are served as
   * usual; it only costs CPU). The other half of idleSpinMicros for a caller awaiting each call;
   * 0 turns it off. Applies to groups created afterwards.
   */
  loopPollMicros: number;
}

export const DEFAULT_POLICY: Readonly<SchedulerPolicy> = Object.freeze({
  defaultQueueLimit: 10_000,
  minTickMs: 10,
  maxTickMs: 1000,
  unavailableCodes: ['ERR_QUEUE_FULL', 'ERR_ENGINE_CLOSED', 'ERR_GROUP_CLOSED'],
  notFoundCodes: ['ERR_SCRIPT_NOT_FOUND'],
  idleSpinMicros: 100,
  loopPollMicros: 50,
});

let current: SchedulerPolicy = { ...DEFAULT_POLICY };

export function schedulerPolicy(): Readonly<SchedulerPolicy> {
  return current;
}

/** The numeric fields and their upper bounds (the native side reads µs up to 10,000). */
const NUMERIC_LIMITS: Partial<Record<keyof SchedulerPolicy, number>> = {
  defaultQueueLimit: Number.MAX_SAFE_INTEGER,
  minTickMs: 60_000,
  maxTickMs: 60_000,
  idleSpinMicros: 10_000,
  loopPollMicros: 10_000,
};

/**
 * Changes the policy for what is scheduled from now on; returns the previous one. A field that is
 * not a policy field, or a number out of range, throws ERR_INVALID_ARGUMENT and changes nothing.
 */
export function setSchedulerPolicy(change: Partial<SchedulerPolicy>): SchedulerPolicy {
  if (change === null || typeof change !== 'object') throw new PyhostError('ERR_INVALID_ARGUMENT', 'setSchedulerPolicy(change): change must be an object');
  for (const [key, value] of Object.entries(change)) {
    if (!Object.hasOwn(DEFAULT_POLICY, key)) throw new PyhostError('ERR_INVALID_ARGUMENT', `setSchedulerPolicy: unknown field ${key}`);
    const max = NUMERIC_LIMITS[key as keyof SchedulerPolicy];
    if (max !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max)) {
      throw new PyhostError('ERR_INVALID_ARGUMENT', `setSchedulerPolicy: ${key} must be an integer from 0 to ${max}, not ${String(value)}`);
    }
  }
  const previous = current;
  current = { ...current, ...change };
  return previous;
}
