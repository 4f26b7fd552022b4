/**
 * Which required modules need an extension that refuses sub-interpreters, found in a throwaway
 * process of the tenant's Python (python/extension_probe.py), so that a refused extension is never
 * initialised in a tenant's interpreter: on CPython 3.11 that breaks the process for the next
 * interpreter that imports it (it segfaulted in %{GLOBAL} after numpy's refusal).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../native/loader.js';

export interface ProbeResult {
  /** module -> the single-phase extension it loads, or null. */
  refusing: Record<string, string | null>;
  /** module -> why it could not be imported. */
  errors: Record<string, string>;
}

const PROBE = path.join(packageRoot, 'python', 'extension_probe.py');

export function probeExtensions(python: string, modules: string[], sysPath: string[]): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    execFile(python, ['-I', PROBE, JSON.stringify({ modules, path: sysPath })], { timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`the extension probe (${python}) failed: ${(stderr || err.message).trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as ProbeResult);
      } catch {
        reject(new Error(`the extension probe (${python}) printed no result: ${stdout.slice(0, 500)} ${stderr.slice(0, 500)}`));
      }
    });
  });
}
