/**
 * --reload-on-changes: the CLI runs the server in a child process and starts a new one when a
 * Python module the application imported changes (as mod_wsgi-express does).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Group } from '../group.js';

export const RELOAD_EXIT_CODE = 3;
const CHILD_ENV = 'PYHOST_RELOADER_CHILD';

export function isReloaderChild(): boolean {
  return process.env[CHILD_ENV] === '1';
}

/** Parent side: runs the server child until it exits for a reason other than a reload. */
export function superviseReloads(): void {
  const start = () => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, [CHILD_ENV]: '1' },
    });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      if (code === RELOAD_EXIT_CODE) {
        start();
        return;
      }
      process.exit(code ?? (signal ? 1 : 0));
    });
  };
  start();
}

/** Child side: polls the files of the modules loaded in `group`; calls `onChange` once. */
export function watchModules(group: Group, extraFiles: string[], onChange: (file: string) => void, intervalMs = 1000): () => void {
  const mtimes = new Map<string, number>();
  let stopped = false;
  const snapshot = (file: string): number => {
    try {
      return fs.statSync(file).mtimeMs;
    } catch {
      return -1;
    }
  };
  const tick = async () => {
    if (stopped) return;
    let files: string[] = extraFiles;
    try {
      files = files.concat(
        await group.eval<string[]>(
          "[f for f in (getattr(m, '__file__', None) for m in list(__import__('sys').modules.values())) if isinstance(f, str)]",
        ),
      );
    } catch {
      /* the group may be busy or restarting: try again next tick */
    }
    for (const file of files) {
      const m = snapshot(file);
      const known = mtimes.get(file);
      if (known === undefined) mtimes.set(file, m);
      else if (known !== m) {
        stopped = true;
        onChange(file);
        return;
      }
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  let timer = setTimeout(tick, intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
