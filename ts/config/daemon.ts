/**
 * `WSGIDaemonProcess name option=value ...`: the options mod_wsgi 4.9 (and later) documents, with
 * its defaults and its validation messages, plus pyhost's own `python=`.
 */
import { ConfigError } from '../errors.js';
import type { DirectiveNode } from './ast.js';
import { nextWord, parseOptions } from './lexer.js';
import type { ConfigWarning, DaemonGroupPlan, DaemonScope } from './plan.js';

/** A parsed group before server-wide defaults (WSGIPythonHome, Timeout) are applied. */
export type DaemonDraft = Omit<DaemonGroupPlan, 'socketTimeout' | 'pythonHome' | 'pythonHomeFrom' | 'definedIn'> & {
  socketTimeout?: number;
  pythonHome?: string;
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Non-negative whole-second and count options pyhost implements: option -> [field, what]. */
const COUNTS: Record<string, [keyof DaemonDraft, string]> = {
  'maximum-requests': ['maximumRequests', 'request count'],
  'restart-interval': ['restartInterval', 'restart interval'],
  'inactivity-timeout': ['inactivityTimeout', 'inactivity timeout'],
  'request-timeout': ['requestTimeout', 'request timeout'],
  'deadlock-timeout': ['deadlockTimeout', 'deadlock timeout'],
  'graceful-timeout': ['gracefulTimeout', 'graceful timeout'],
  'shutdown-timeout': ['shutdownTimeout', 'shutdown timeout'],
  'startup-timeout': ['startupTimeout', 'startup timeout'],
  'queue-timeout': ['queueTimeout', 'queue timeout'],
  'socket-timeout': ['socketTimeout', 'socket timeout'],
};

/** Plain string options pyhost implements: option -> field. */
const STRINGS: Record<string, keyof DaemonDraft> = {
  'python': 'python', 'python-home': 'pythonHome', 'display-name': 'displayName', 'lang': 'lang', 'locale': 'locale',
};

/**
 * Options mod_wsgi documents that pyhost does not implement, with the check mod_wsgi applies to
 * the value: `count` (integer >= 0), `int`, `number`, `octal`, `onoff`, `abspath`, `name`
 * (non-empty), `any`, or a minimum size (0 also allowed).
 */
export const UNIMPLEMENTED_OPTIONS: Readonly<Record<string, string | number>> = {
  'supplementary-groups': 'any', 'umask': 'octal', 'chroot': 'abspath', 'script-user': 'name', 'script-group': 'name',
  'python-eggs': 'any', 'stack-size': 'positive', 'eviction-timeout': 'count', 'connect-timeout': 'count',
  'listen-backlog': 'count', 'send-buffer-size': 512, 'receive-buffer-size': 512, 'header-buffer-size': 8192,
  'response-buffer-size': 65536, 'response-socket-timeout': 'count', 'socket-user': 'name', 'cpu-time-limit': 'count',
  'cpu-priority': 'int', 'memory-limit': 'count', 'virtual-memory-limit': 'count', 'server-metrics': 'onoff',
  'newrelic-config-file': 'any', 'newrelic-environment': 'any', 'interrupt-timeout': 'count',
  'switch-interval': 'number', 'response-flush-delay': 'count',
};

const INVALID = 'Invalid option to WSGI daemon process definition.';

function validValue(check: string | number, value: string): boolean {
  if (typeof check === 'number') return /^\d+$/.test(value) && (Number(value) === 0 || Number(value) >= check);
  switch (check) {
    case 'count': return /^\d+$/.test(value);
    case 'positive': return /^\d+$/.test(value) && Number(value) > 0;
    case 'int': return /^[-+]?\d+$/.test(value);
    case 'number': return /^\d+(\.\d*)?$|^\.\d+$/.test(value) && Number(value) > 0;
    case 'octal': return /^[0-7]+$/.test(value);
    case 'onoff': return /^(on|off)$/i.test(value);
    case 'abspath': return value.startsWith('/');
    case 'name': return value !== '';
    default: return true;
  }
}

/**
 * Parses one WSGIDaemonProcess line.
 *
 * @param warnings receives one warning per option pyhost does not implement.
 * @throws ConfigError with mod_wsgi's message for a missing name, an unknown option or a bad value.
 */
export function parseDaemonProcess(node: DirectiveNode, warnings: ConfigWarning[]): DaemonDraft {
  const where = { file: node.file, line: node.line };
  const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
  const first = nextWord(node.raw, 0, where);
  if (!first || first.word === '') return fail('Name of WSGI daemon process not supplied: expected WSGIDaemonProcess name [option=value ...]');
  const name = first.word;
  const g: Mutable<DaemonDraft> = {
    name, file: node.file, line: node.line,
    processes: 1, processesExplicit: false, threads: 15, pythonPath: [],
    maximumRequests: 0, restartInterval: 0, inactivityTimeout: 0, requestTimeout: 0, deadlockTimeout: 300,
    gracefulTimeout: 15, shutdownTimeout: 5, startupTimeout: 0, queueTimeout: 0, unimplemented: {},
  };
  const unimplemented: Record<string, string> = {};
  for (const { name: opt, value } of parseOptions(node.raw.slice(first.next), where, INVALID)) {
    const bad = (what: string, expected: string): never =>
      fail(`Invalid ${what} for WSGI daemon process. Expected ${expected}, got ${opt}=${value}`);
    if (opt in COUNTS) {
      const [field, what] = COUNTS[opt]!;
      if (!/^\d+$/.test(value)) bad(what, 'a whole number of seconds (or count) >= 0');
      (g as Record<string, unknown>)[field] = Number(value);
    } else if (opt in STRINGS) {
      (g as Record<string, unknown>)[STRINGS[opt]!] = value;
    } else if (opt === 'processes') {
      if (!/^\d+$/.test(value) || Number(value) < 1) bad('process count', 'a whole number >= 1');
      g.processes = Number(value);
      g.processesExplicit = true;
    } else if (opt === 'threads') {
      if (!/^\d+$/.test(value) || Number(value) > 65533) bad('thread count', 'a whole number from 0 to 65533');
      g.threads = Number(value);
    } else if (opt === 'python-path') {
      g.pythonPath = value.split(':').filter((p) => p !== '');
    } else if (opt === 'home') {
      if (!value.startsWith('/')) bad('home directory', 'an absolute path');
      g.home = value;
    } else if (opt === 'user') {
      if (value === '') bad('user', 'a user name or #uid');
      if (value === 'root' || /^#0+$/.test(value)) fail(`WSGI process blocked from running as root (${opt}=${value}).`);
      g.user = value;
    } else if (opt === 'group') {
      if (value === '') bad('group', 'a group name or #gid');
      g.group = value;
    } else if (opt in UNIMPLEMENTED_OPTIONS) {
      const check = UNIMPLEMENTED_OPTIONS[opt]!;
      if (!validValue(check, value)) bad(`${opt} value`, typeof check === 'number' ? `0 or a size >= ${check}` : `a valid ${check} value`);
      unimplemented[opt] = value;
      warnings.push({ file: node.file, line: node.line,
        message: `WSGIDaemonProcess ${name}: option ${opt}=${value} is not implemented by pyhost and is ignored` });
    } else {
      fail(`${INVALID} Unknown option '${opt}' (WSGIDaemonProcess ${name}).`);
    }
  }
  if (unimplemented['script-user'] !== undefined && unimplemented['script-group'] !== undefined) {
    fail('Only one of script-user and script-group allowed.');
  }
  g.unimplemented = unimplemented;
  return g;
}

/**
 * Completes a parsed group: where it was defined, and the server-wide defaults (WSGIPythonHome
 * for `python-home`, Apache's Timeout for `socket-timeout`).
 */
export function finishDaemonGroup(draft: DaemonDraft, definedIn: DaemonScope, pythonHome: string | undefined, timeout: number): DaemonGroupPlan {
  const home = draft.pythonHome ?? pythonHome;
  const { pythonHome: _ph, socketTimeout, ...rest } = draft;
  return {
    ...rest,
    definedIn,
    ...(home !== undefined ? { pythonHome: home, pythonHomeFrom: draft.pythonHome !== undefined ? 'python-home' : 'WSGIPythonHome' } : {}),
    socketTimeout: socketTimeout && socketTimeout > 0 ? socketTimeout : timeout,
  } as DaemonGroupPlan;
}
