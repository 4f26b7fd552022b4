/** Typings of the native addon (csrc/addon). Only ts/ talks to it; users never see these. */

/**
 * A hard deadline for a call or request (csrc/python/deadlines.h): interrupted once it has run
 * `timeoutMs` (0: never, unless cancelled), again and again until it ends; reported stuck
 * (ERR_STUCK, or the Stuck event) if it has not ended `graceMs` later. `cancellable` lets
 * cancel(seq) interrupt it.
 */
export interface NativeCallLimits {
  timeoutMs: number;
  graceMs?: number;
  cancellable?: boolean;
}

/** How a call ended, in a batch of call outcomes (csrc/addon/call_results.h). */
export const enum CallOutcome {
  Value = 0,
  Undefined = 1,
  Error = 2,
}

export interface NativeGroupHandle {
  /**
   * A batch of calls: 7 fields each (id, kind 0 exec / 1 eval / 2 call, source or module, func,
   * args, kwargs, limits); outcomes come back through setCallResults (ts/native/calls.ts).
   */
  submitCalls(ops: unknown[]): void;
  /** Stops a cancellable call (limits.cancellable) before it runs, or interrupts it; false if it ended. */
  cancel(id: number): boolean;
  rehome(): void;
  /** Python stacks of the group's threads (all, or the one with this thread ident). */
  dumpStacks(thread: number): Promise<string>;
  /** Raises `TimeoutError` (or SystemExit) in the worker running job `seq`, if it still runs it. */
  interrupt(seq: number, exception: 'TimeoutError' | 'SystemExit'): Promise<boolean>;
  /** The group took a warm interpreter from the pool. */
  readonly pooled: boolean;
  /** Closes the group; resolves true once its sub-interpreter has ended. */
  closeAndWait(): Promise<boolean>;
  close(): void;
  /** spinMisses: a worker's polls for the next call that timed out (the call came later, or never). */
  info(): { kind: 'main' | 'shared' | 'own'; queued: number; closed: boolean; spinMisses: number; busy: { thread: number; busyMs: number }[] };
}

export interface NativeGroupOptions {
  name: string;
  kind: 'main' | 'shared' | 'own';
  strictExtensions: boolean;
  threads: number;
  path: string[];
  /** Take a warm interpreter from the pool if one is ready. */
  pooled?: boolean;
  /** µs an idle worker polls for the next call before it sleeps (SchedulerPolicy.idleSpinMicros). */
  spinMicros?: number;
  /** µs the event loop polls for outcomes after a batch of calls (SchedulerPolicy.loopPollMicros). */
  loopPollMicros?: number;
  /** Host functions given to the group (ts/native/host-functions.ts). */
  host?: NativeHostSpec;
}

/** A group's host functions as the native side knows them: the dispatcher's key and the names. */
export interface NativeHostSpec {
  id: number;
  names: string[];
}

/** Flags of submitRequest. */
export const enum SubmitFlags {
  HasBody = 1,
  PassAuthorization = 2,
  Multiprocess = 4,
  SingleThread = 8,
  /** Do not wake a worker now: wakeGroups() does, once per event loop turn. */
  DeferWake = 16,
}

/** Flags of the request dispatch callback. */
export const enum EventFlags {
  End = 1,
  Abort = 2,
  ResumeInput = 4,
  Sendfile = 8,
  Refused = 16,
  /** With End: the request's hard deadline interrupted it. */
  TimedOut = 32,
  /** The request was interrupted and has not ended within the grace period (it still runs). */
  Stuck = 64,
}

/**
 * Called by the core with a request's new output: head (status 0 when none), body chunk(s),
 * flags, and for Sendfile [fd, offset, length] or for Refused [module, message].
 */
export type RequestDispatch = (
  id: number,
  status: number,
  reason: string | undefined,
  headers: string | undefined,
  body: Buffer | Buffer[] | undefined,
  flags: number,
  extra: [number, number, number] | [string, string] | undefined,
) => void;

export interface NativeAddon {
  /** Takes each batch of call outcomes (ts/native/calls.ts). */
  setCallResults(fn: (ids: number[], outcomes: unknown[], kinds: CallOutcome[]) => void): void;
  /** Takes each host call from Python (ts/native/host-functions.ts). */
  setHostDispatcher(fn: (hostId: number, callId: number, name: string, args: unknown[]) => void): void;
  /** A host call's outcome: a value (ok) or an error message; false if it was no longer open. */
  settleHostCall(callId: number, ok: boolean, value: unknown): boolean;
  registerApp(target: string, isModule: boolean, callable: string, reload: boolean): number;
  /**
   * `fields`: method, scriptName, pathInfo, query, requestUri, protocol, scheme, serverName,
   * serverPort, localAddr, remoteAddr, remotePort, processGroup, applicationGroup, then the raw
   * headers ("name\nvalue\n..."), joined by NUL.
   */
  submitRequest(group: NativeGroupHandle, appKey: number, fields: string, flags: number, limits?: NativeCallLimits): number;
  /** Wakes the workers of groups given DeferWake requests. */
  wakeGroups(): void;
  requestPush(id: number, chunk: Buffer): boolean;
  requestEnd(id: number): void;
  requestCancel(id: number): void;
  requestAck(id: number, bytes: number): void;
  requestSendfileDone(id: number): void;
  requestResubmit(id: number, group: NativeGroupHandle): void;
  requestFail(id: number, code: string, message: string): void;
  requestInfo(id: number): { started: boolean; thread: number; seq: number } | undefined;
  /** Keep `n` warm interpreters of a kind ready, each having run `prelude` (Python). */
  poolSetTarget(kind: 'own' | 'shared', strict: boolean, n: number, prelude?: string): void;
  poolStats(kind: 'own' | 'shared', strict: boolean): { idle: number; created: number };
  setRequestDispatch(fn: RequestDispatch): void;
  /** Batches of completions delivered after a wake-up of the loop, and by its polling turns (loopPollMicros). */
  completionStats(): { woken: number; polled: number };
  /** Loads (imports) a registered WSGI application in a group, as WSGIImportScript does. */
  loadApp(group: NativeGroupHandle, appKey: number): Promise<undefined>;
  pythonVersionBuilt: string;
  startRuntime(opts: {
    program?: string;
    home?: string;
    path: string[];
    optimize: number;
    allocator?: string;
    /** What the gateway answers, by error code, for an application that never ran (ts/scheduler/status.ts). */
    errorStatuses?: [string, number][];
    /** The starter's RuntimeSettings (JSON), handed to every later user (ts/native/runtime.ts). */
    settings: string;
  }): Promise<{ version: string; attached: boolean; settings: string }>;
  /** This environment stops using the runtime: only it leaves (`detached`) while others use it; the last finalises. */
  shutdownRuntime(timeoutMs: number): Promise<{ finalized: boolean; detached: boolean; report: string }>;
  /** Outstanding native work stops keeping the event loop alive (after giving up on Python). */
  releaseLoop(): void;
  setLogHandler(fn: ((level: number, group: string, line: string) => void) | null): void;
  runtimeState(): { running: boolean; version: string; interpreters: number };
  GroupHandle: new (opts: NativeGroupOptions) => NativeGroupHandle;
}
