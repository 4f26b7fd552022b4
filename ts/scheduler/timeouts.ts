/**
 * The one timer mechanism for queue and request timeouts: a clock that checks the requests of a
 * mount or a daemon group every tenth of the shortest timeout (within the policy's bounds), so a
 * timeout fires at most 10% late, with one timer per owner rather than one per request.
 */
import { schedulerPolicy } from './policy.js';

/** How often to check timeouts of these lengths (ms); undefined when none is set. */
export function checkInterval(timeouts: readonly number[]): number | undefined {
  const set = timeouts.filter((t) => t > 0);
  if (!set.length) return undefined;
  const p = schedulerPolicy();
  return Math.max(p.minTickMs, Math.min(p.maxTickMs, Math.floor(Math.min(...set) / 10)));
}

/** Calls `check` at checkInterval(timeouts) (or every `idleMs` when no timeout is set, if given). */
export class TimeoutClock {
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(timeouts: readonly number[], check: () => void, idleMs?: number) {
    const every = checkInterval(timeouts) ?? idleMs;
    if (every !== undefined) {
      this.timer = setInterval(check, every);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Whether something that started at `since` (ms, 0: not started) has overrun `limit` (0: none) at `now`. */
export function overran(since: number, limit: number, now: number): boolean {
  return limit > 0 && since > 0 && now - since > limit;
}
