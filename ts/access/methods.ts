/**
 * Sets of HTTP methods as Apache keeps them (`cmd->limited`, a bit per method number): all
 * methods but some (`except`), or only some (`only`). HEAD has GET's method number, so a set
 * naming GET covers HEAD. Method names are case-sensitive, as in Apache (`<Limit get>` names an
 * extension method `get`, not GET).
 */
import type { MethodSet } from '../config/access-plan.js';

/** The methods Apache 2.4 knows by number (ap_method_number_of); others must be named in a `<Limit>` first. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'GET', 'PUT', 'POST', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY',
  'MOVE', 'LOCK', 'UNLOCK', 'VERSION-CONTROL', 'CHECKOUT', 'UNCHECKOUT', 'CHECKIN', 'UPDATE', 'LABEL', 'REPORT',
  'MKWORKSPACE', 'MKACTIVITY', 'BASELINE-CONTROL', 'MERGE', 'HEAD',
]);

/** Every method (a directive outside `<Limit>`). */
export const ALL_METHODS: MethodSet = Object.freeze({ except: [] });

/** The name a method is counted under: HEAD is GET. */
export const methodKey = (method: string): string => (method === 'HEAD' ? 'GET' : method);

const uniq = (names: Iterable<string>): string[] => [...new Set([...names].map(methodKey))].sort();

/** `<Limit methods>`. */
export const onlyMethods = (names: readonly string[]): MethodSet => ({ only: uniq(names) });

/** `<LimitExcept methods>`. */
export const exceptMethods = (names: readonly string[]): MethodSet => ({ except: uniq(names) });

/** Whether `method` is in the set. */
export function hasMethod(set: MethodSet, method: string): boolean {
  const key = methodKey(method);
  return 'only' in set ? set.only.includes(key) : !set.except.includes(key);
}

/** The union of two sets (Apache ORs the masks). */
export function unionMethods(a: MethodSet, b: MethodSet): MethodSet {
  if ('only' in a && 'only' in b) return { only: uniq([...a.only, ...b.only]) };
  if ('except' in a && 'except' in b) return { except: a.except.filter((m) => b.except.includes(m)) };
  const only = 'only' in a ? a : (b as { only: readonly string[] });
  const except = 'except' in a ? a : (b as { except: readonly string[] });
  return { except: except.except.filter((m) => !only.only.includes(m)) };
}

/** The intersection of two sets (a `<Limit>` inside a `<LimitExcept>` and the like). */
export function intersectMethods(a: MethodSet, b: MethodSet): MethodSet {
  if ('only' in a && 'only' in b) return { only: a.only.filter((m) => b.only.includes(m)) };
  if ('except' in a && 'except' in b) return { except: uniq([...a.except, ...b.except]) };
  const only = 'only' in a ? a : (b as { only: readonly string[] });
  const except = 'except' in a ? a : (b as { except: readonly string[] });
  return { only: only.only.filter((m) => !except.except.includes(m)) };
}

/** Whether the set is every method. */
export const isAllMethods = (set: MethodSet): boolean => 'except' in set && set.except.length === 0;

/** `GET POST` or `all but GET` for messages. */
export function describeMethods(set: MethodSet): string {
  if ('only' in set) return set.only.join(' ');
  return set.except.length ? `all but ${set.except.join(' ')}` : 'all';
}
