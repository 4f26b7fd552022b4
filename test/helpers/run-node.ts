/**
 * Runs a Node script of the repository (the CLI, the bench) as a child process and collects its
 * output, for tests that judge a whole command: exit code, stdout, and stdout + stderr together.
 */
import { spawn } from 'node:child_process';
import { REPO_ROOT } from './child.js';

export interface Ran {
  code: number | null;
  stdout: string;
  /** stdout and stderr, interleaved as they came. */
  output: string;
}

/** `node ...args` in the repository root; killed after `timeoutMs`. Never rejects. */
export function runNode(args: string[], env: Record<string, string> = {}, timeoutMs = 150_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      output += d;
    });
    child.stderr.on('data', (d: Buffer) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, output });
    });
  });
}

/** The last 40 lines of a run's output (for assertion messages). */
export const tail = (r: Ran): string => r.output.split('\n').slice(-40).join('\n');
