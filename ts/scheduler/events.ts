/**
 * What the scheduler tells about what it decided and what happened: requests answered, jobs
 * refused, timeouts, %{GLOBAL} fallbacks, daemon restarts. An engine's metrics (ts/metrics)
 * listen; without metrics the sink does nothing (nothing is counted per request).
 */
export interface SchedulerEvents {
  /** A request was answered (any status) after `seconds`. */
  requestDone(group: string, processGroup: string, status: number, seconds: number): void;
  /** Admission refused a job (the queue was full, or the group closed). */
  rejected(group: string, processGroup: string, reason: 'queue_full' | 'closed'): void;
  /** A request or call overran a timeout. */
  timedOut(group: string, processGroup: string, kind: 'queue' | 'request' | 'call'): void;
  /** A group moved to %{GLOBAL} (an extension module refused its sub-interpreter). */
  fellBack(group: string, processGroup: string): void;
  /** A daemon process of the group was restarted (it died, overran, or was recycled). */
  restarted(processGroup: string, reason: 'crash' | 'recycle' | 'timeout'): void;
}

export const NO_EVENTS: SchedulerEvents = {
  requestDone() {},
  rejected() {},
  timedOut() {},
  fellBack() {},
  restarted() {},
};
