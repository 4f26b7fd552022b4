/**
 * Runs a TypeScript snippet in a fresh Node process (`node --import tsx <tmp>.mts`), for whatever
 * needs its own Python runtime: another pythonHome, optimize or home, close() behaviour, stuck
 * workers. The snippet is an ES module with top-level await; a prelude imports `Engine`,
 * `PyhostError` and `PythonError` from the package source and defines `report(value)`, which
 * hands a JSON value back to the test (`result.reports`, in order).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const INDEX_URL = pathToFileURL(path.join(REPO_ROOT, 'ts', 'index.ts')).href;
const TSX_URL = pathToFileURL(createRequire(path.join(REPO_ROOT, 'package.json')).resolve('tsx')).href;
const REPORT_MARK = '@@pyhost-report ';

export interface ChildOptions {
  /** Extra environment variables (merged over process.env; `undefined` removes one). */
  env?: Record<string, string | undefined>;
  /** Kill the child (SIGKILL) after this many ms; default 60000. */
  timeoutMs?: number;
  /** Working directory (default: the repository root). */
  cwd?: string;
}

export interface ChildResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from spawn to exit. */
  elapsedMs: number;
  /** True when the helper had to kill the child at timeoutMs. */
  timedOut: boolean;
  /** Values passed to report() by the snippet, in order. */
  reports: unknown[];
}

const PRELUDE = `import { Engine, PyhostError, PythonError } from ${JSON.stringify(INDEX_URL)};
const report = (value: unknown): void => {
  process.stdout.write(${JSON.stringify(REPORT_MARK)} + JSON.stringify(value, (_k, v) => typeof v === 'bigint' ? v.toString() + 'n' : v) + '\\n');
};
void Engine; void PyhostError; void PythonError;
`;

// Children are whole Node processes with a Python runtime each: run at most this many at once
// per test process, so a test file with many child tests does not starve the machine.
const MAX_CHILDREN = Math.max(1, Math.min(2, os.cpus().length));
let running = 0;
const waiting: (() => void)[] = [];

async function slot(): Promise<() => void> {
  if (running >= MAX_CHILDREN) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
}

let tmpRoot: string | undefined;
function scriptDir(): string {
  if (!tmpRoot) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-child-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    tmpRoot = dir;
  }
  return tmpRoot;
}
let counter = 0;

/** Runs `source` (TypeScript, ESM) in a new Node process. Never rejects for the child's failures. */
export async function runChild(source: string, options: ChildOptions = {}): Promise<ChildResult> {
  const file = path.join(scriptDir(), `child-${process.pid}-${++counter}.mts`);
  fs.writeFileSync(file, PRELUDE + source);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...options.env })) if (v !== undefined) env[k] = v;
  const timeoutMs = options.timeoutMs ?? 60000;
  const release = await slot();
  try {
    return await new Promise<ChildResult>((resolve, reject) => {
      const started = performance.now();
      const child = spawn(process.execPath, ['--import', TSX_URL, file], {
        cwd: options.cwd ?? REPO_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const reports = stdout
          .split('\n')
          .filter((l) => l.startsWith(REPORT_MARK))
          .map((l) => JSON.parse(l.slice(REPORT_MARK.length)) as unknown);
        resolve({ code, signal, stdout, stderr, elapsedMs: performance.now() - started, timedOut, reports });
      });
    });
  } finally {
    release();
    fs.rmSync(file, { force: true });
  }
}

/** A one-line summary of a child's outcome, for assertion messages. */
export function describeChild(r: ChildResult): string {
  return (
    `exit ${r.code ?? r.signal}${r.timedOut ? ' (killed at timeout)' : ''} after ${Math.round(r.elapsedMs)} ms\n` +
    `--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`
  );
}
