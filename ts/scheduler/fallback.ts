/**
 * The %{GLOBAL} fallback, decided here once: when an extension module refuses sub-interpreters,
 * an application group moves to the main interpreter (fallback 'global', the default: mod_wsgi's
 * advice made automatic) or the ImportError goes through with advice ('error'). The native side
 * only reports a refusal and carries out "move to %{GLOBAL}"; embedded groups, daemon processes
 * and the harness all take the decision and the words from here.
 */

/** Where a tenant (or a group's code) runs: its own-GIL or shared-GIL sub-interpreter, or the main interpreter. */
export type Placement = 'own' | 'shared' | 'global';

export type FallbackOption = 'global' | 'error';

/** Whether a group with this option moves to %{GLOBAL} when `module` refuses it. */
export function movesToGlobal(option: FallbackOption): boolean {
  return option === 'global';
}

/** Logged once when a group moves. */
export function movedWarning(group: string, module: string): string {
  return `extension module ${module} does not support sub-interpreters: group ${group} now runs in the main interpreter ` +
    `(%{GLOBAL}). To make this explicit, put the application in group '%{GLOBAL}' (WSGIApplicationGroup %{GLOBAL})`;
}

/** Added to the ImportError when a group does not move. */
export function refusedAdvice(group: string, module: string): string {
  return `(pyhost: extension module ${module} cannot load in the sub-interpreter of group ${group}; ` +
    `run the application in group '%{GLOBAL}' (WSGIApplicationGroup %{GLOBAL}) or use fallback: 'global')`;
}

/**
 * A refusal reported by a thread that runs requests itself (a daemon process, the native HTTP
 * front): the log line "@refused MODULE moved" or "@refused MODULE kept IMPORTERROR" (written by
 * csrc/daemon/server.cc and csrc/http/app_runner.cc).
 */
export interface RefusalEvent {
  module: string;
  moved: boolean;
  importError?: string;
}

const REFUSED_EVENT = /^@refused (\S+) (moved|kept)(?: ([^]*))?$/;

/** The refusal a log line reports, if it is one. */
export function refusalEvent(line: string): RefusalEvent | undefined {
  const m = REFUSED_EVENT.exec(line);
  return m ? { module: m[1], moved: m[2] === 'moved', importError: m[3] } : undefined;
}

/** How a reported refusal is logged: a warning when the group moved, else the ImportError with advice. */
export function refusalLogLine(group: string, event: RefusalEvent): { level: 'warn' | 'error'; message: string } {
  if (event.moved) return { level: 'warn', message: movedWarning(group, event.module) };
  return { level: 'error', message: `${event.importError ?? `extension module ${event.module} refused`} ${refusedAdvice(group, event.module)}` };
}

/**
 * Where a harness tenant goes when a module it requires refuses sub-interpreters ('error':
 * nowhere, the caller refuses the tenant).
 */
export function tenantFallback(option: 'global' | 'shared' | 'error'): Placement | undefined {
  return option === 'global' ? 'global' : option === 'shared' ? 'shared' : undefined;
}
