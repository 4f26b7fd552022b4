/**
 * Admission: whether a group takes one more job. A job beyond its running threads and its queue
 * limit is refused (ERR_QUEUE_FULL, which answers 503) instead of waiting without bound.
 */
import { PyhostError } from '../errors.js';

export interface Load {
  /** Jobs submitted and not finished (running or queued). */
  inflight: number;
  threads: number;
  queueLimit: number;
}

/** Throws ERR_QUEUE_FULL when `load` has no room for another job. */
export function admit(group: string, load: Load): void {
  if (load.inflight >= load.threads + load.queueLimit) {
    throw new PyhostError('ERR_QUEUE_FULL', `group ${group}: queue full (${load.queueLimit} waiting, ${load.threads} running)`);
  }
}

/** The least loaded of `candidates` (the first of equals): where a replicated group's next request goes. */
export function leastLoaded<T extends { load: number }>(candidates: readonly T[]): T {
  let best = candidates[0];
  for (const c of candidates) if (c.load < best.load) best = c;
  return best;
}
