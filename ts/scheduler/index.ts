/**
 * The scheduler: the one place that decides, for every request and every call, where it runs and
 * under which limits: admission and queue limits (admission.ts), which replica (admission.ts),
 * queue and request timeouts (timeouts.ts), the HTTP status pyhost answers with (status.ts), the
 * %{GLOBAL} fallback (fallback.ts) and what an own GIL implies (extensions.ts). Its policy is data
 * (policy.ts). The native side executes what it is handed and reports what happened.
 */
export { admit, leastLoaded, type Load } from './admission.js';
export { extensionsFor, isStrict, type ExtensionPolicy } from './extensions.js';
export {
  movedWarning,
  movesToGlobal,
  refusalEvent,
  refusalLogLine,
  refusedAdvice,
  tenantFallback,
  type FallbackOption,
  type RefusalEvent,
} from './fallback.js';
export { DEFAULT_POLICY, schedulerPolicy, setSchedulerPolicy, type SchedulerPolicy } from './policy.js';
export { errorStatusArgs, errorStatusTable, statusForError, type StatusAnswer } from './status.js';
export { checkInterval, overran, TimeoutClock } from './timeouts.js';
