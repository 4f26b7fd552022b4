/**
 * The process's one Python runtime, as one Node thread sees it. The first Engine of a thread
 * starts it, or attaches to it when another thread (the main thread, a Worker) started it
 * already; the thread's last Engine to close leaves it, and the last user of the process
 * finalises Python. A Worker torn down without closing its Engines leaves it natively
 * (csrc/addon/addon.cc, ReleaseEnvironment).
 *
 * Which Python runs is written down process-wide (libpython.ts, runtimeRecord), so a Worker that
 * names no Python loads the build of the one that runs, and one that names another gets
 * ERR_PYTHON_VERSION_MISMATCH naming both. The runtime itself keeps the options it was started
 * with and hands them to every later user, which must not ask for others.
 */
import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { fromNative, PyhostError } from '../errors.js';
import { errorStatusTable } from '../scheduler/index.js';
import { sameFile, runtimeRecord, setRuntimeRecord } from './libpython.js';
import { checkPythonHome, loadAddon, resolveBuild, type ResolvedBuild } from './loader.js';
import type { NativeAddon } from './types.js';

/** What an Engine asks of the runtime (options not given are undefined). */
export interface RuntimeRequest {
  python?: string;
  pythonHome?: string;
  pythonPath?: string[];
  home?: string;
  optimize?: number;
  allocator?: string;
}

/** What the runtime runs with: written by the thread that started it, read by the others. */
export interface RuntimeSettings {
  build: ResolvedBuild;
  /** sys.executable. */
  program: string;
  pythonHome?: string;
  pythonPath: string[];
  optimize: number;
  allocator?: string;
  home?: string;
  /** threadId of the Node thread that started it. */
  startedBy: number;
}

/** The runtime as this thread uses it. `users` are this thread's Engines. */
export interface ThreadRuntime extends RuntimeSettings {
  addon: NativeAddon;
  version: string;
  users: Set<object>;
}

let current: ThreadRuntime | undefined;
let starting: Promise<ThreadRuntime> | undefined;

/** For a venv pythonHome given without `python`, the venv's interpreter identifies the build. */
function venvInterpreter(home: string): string | undefined {
  const p = path.resolve(home);
  if (!fs.existsSync(path.join(p, 'pyvenv.cfg'))) return undefined;
  return ['python3', 'python'].map((n) => path.join(p, 'bin', n)).find((c) => fs.existsSync(c));
}

/** The interpreter a request names: `python`, else a venv pythonHome's own; undefined for none. */
function pythonNamed(req: RuntimeRequest): string | undefined {
  return req.python ?? (req.pythonHome ? venvInterpreter(req.pythonHome) : undefined);
}

function readRecord(): RuntimeSettings | undefined {
  const json = runtimeRecord();
  return json ? (JSON.parse(json) as RuntimeSettings) : undefined;
}

function describe(s: { build: ResolvedBuild; program: string }): string {
  return `Python ${s.build.version} (${s.program})`;
}

function versionMismatch(running: RuntimeSettings, wanted: ResolvedBuild): PyhostError {
  const where = running.startedBy === threadId ? 'this thread' : running.startedBy === 0 ? 'the main thread' : `thread ${running.startedBy}`;
  return new PyhostError(
    'ERR_PYTHON_VERSION_MISMATCH',
    `${describe(running)} already runs in this process (started by ${where}); this Engine asks for Python ${wanted.version} ` +
      `(${wanted.executable}). One Python per process: omit python to use the one that runs, or use a daemon process group for another`,
  );
}

/** Options this request sets differently from the running runtime, as "option running-value". */
function conflicts(running: RuntimeSettings, req: RuntimeRequest): string[] {
  const out: string[] = [];
  if ((req.pythonHome && path.resolve(req.pythonHome)) !== running.pythonHome) out.push(`pythonHome ${running.pythonHome ?? '(none)'}`);
  if (req.pythonPath !== undefined && JSON.stringify(req.pythonPath) !== JSON.stringify(running.pythonPath)) {
    out.push(`pythonPath ${JSON.stringify(running.pythonPath)}`);
  }
  if (req.optimize !== undefined && req.optimize !== running.optimize) out.push(`optimize ${running.optimize}`);
  if (req.allocator !== undefined && req.allocator !== (running.allocator ?? 'pymalloc')) out.push(`allocator ${running.allocator ?? '(default)'}`);
  if (req.home !== undefined && path.resolve(req.home) !== running.home) out.push(`home ${running.home ?? '(none)'}`);
  return out;
}

function conflictError(found: string[]): PyhostError {
  return new PyhostError(
    'ERR_RUNTIME_CONFLICT',
    `Python already runs in this process with ${found.join(', ')}; a second Engine shares it and cannot change that ` +
      '(start it in another process, or use a daemon process group)',
  );
}

/** The runtime for one more Engine of this thread: started, attached to, or this thread's. */
export async function joinRuntime(req: RuntimeRequest, onLog: (level: number, group: string, line: string) => void): Promise<ThreadRuntime> {
  let rt = current ?? (starting ? await starting.catch(() => undefined) : undefined);
  if (rt) {
    const found = conflicts(rt, req);
    if (found.length) throw conflictError(found);
    const wanted = pythonNamed(req);
    if (wanted) {
      const build = resolveBuild(wanted);
      if (!sameFile(build.libpython, rt.build.libpython)) throw versionMismatch(rt, build);
    }
    return rt;
  }
  starting = startOrAttach(req, onLog);
  try {
    rt = await starting;
  } finally {
    starting = undefined;
  }
  current = rt;
  return rt;
}

async function startOrAttach(req: RuntimeRequest, onLog: (level: number, group: string, line: string) => void): Promise<ThreadRuntime> {
  const record = readRecord();
  const wanted = pythonNamed(req);
  const build = !wanted && record ? record.build : resolveBuild(wanted);
  if (record && !sameFile(build.libpython, record.build.libpython)) throw versionMismatch(record, build);
  const homeInfo = req.pythonHome ? checkPythonHome(path.resolve(req.pythonHome), build) : undefined;
  let addon: NativeAddon;
  try {
    addon = loadAddon(build);
  } catch (err) {
    // Another thread runs another minor version: its libpython is the process's.
    if (record && (err as PyhostError).code === 'ERR_RUNTIME_CONFLICT') throw versionMismatch(record, build);
    throw err;
  }
  const ours: RuntimeSettings = {
    build,
    program: homeInfo?.python ?? build.executable,
    pythonHome: req.pythonHome ? path.resolve(req.pythonHome) : undefined,
    pythonPath: req.pythonPath ?? [],
    optimize: req.optimize ?? 0,
    allocator: req.allocator,
    home: req.home ? path.resolve(req.home) : undefined,
    startedBy: threadId,
  };
  if (!record && req.home) {
    try {
      process.chdir(req.home);
    } catch (err) {
      throw new PyhostError('ERR_INVALID_OPTION', `Engine.start: home ${req.home}: ${(err as Error).message}`);
    }
  }
  addon.setLogHandler(onLog);
  let r: { version: string; attached: boolean; settings: string };
  try {
    r = await addon.startRuntime({
      program: ours.program,
      home: homeInfo && !homeInfo.venv ? ours.pythonHome : undefined,
      path: [...ours.pythonPath, ...(ours.home ? [ours.home] : [])],
      optimize: ours.optimize,
      allocator: ours.allocator,
      errorStatuses: errorStatusTable(),
      settings: JSON.stringify(ours),
    });
  } catch (err) {
    throw fromNative(err);
  }
  let settings = ours;
  if (r.attached) {
    settings = JSON.parse(r.settings) as RuntimeSettings;
    const found = conflicts(settings, req);
    if (found.length) {
      await addon.shutdownRuntime(0); // leaves: the others go on
      throw conflictError(found);
    }
  } else {
    setRuntimeRecord(JSON.stringify(ours));
  }
  return { ...settings, addon, version: r.version, users: new Set() };
}

/**
 * This thread's last Engine closed: leave the runtime (finalising Python if no other thread
 * uses it), within about `timeoutMs`. `finalized` is false when Python had to be left running.
 */
export async function leaveRuntime(rt: ThreadRuntime, timeoutMs: number): Promise<{ finalized: boolean; detached: boolean; report: string }> {
  if (current === rt) current = undefined;
  let timer: NodeJS.Timeout | undefined;
  const givenUp = new Promise<{ finalized: boolean; detached: boolean; report: string }>((resolve) => {
    timer = setTimeout(
      () => resolve({ finalized: false, detached: false, report: `Python was not finalised: shutdown did not finish within ${timeoutMs + 2000} ms (a thread holds a GIL?)` }),
      timeoutMs + 2000,
    );
  });
  const r = await Promise.race([rt.addon.shutdownRuntime(timeoutMs), givenUp]);
  clearTimeout(timer);
  if (!r.detached) setRuntimeRecord(null);
  return r;
}

/** This thread's runtime, if it uses one. */
export function threadRuntime(): ThreadRuntime | undefined {
  return current;
}
