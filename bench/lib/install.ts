/**
 * Installing missing peers from Debian packages. CI starts from a clean machine, so when a peer's
 * binary or module is missing and we are root, the bench runs `apt-get install -y` itself; when we
 * are not root (or apt fails) the peer is skipped with a loud note instead.
 *
 * Package post-install scripts must not start the system Apache on *:80 (we only ever bind
 * 127.0.0.1), so the install runs under a temporary /usr/sbin/policy-rc.d that forbids service
 * starts (the standard Debian mechanism), removed afterwards.
 */
import * as fs from 'node:fs';
import { run } from './proc.js';

export interface Requirement {
  /** What is missing, for messages: "gunicorn for /usr/bin/python3.11". */
  what: string;
  /** Is it there already? */
  present(): boolean | Promise<boolean>;
  /** Debian packages that provide it. */
  packages: string[];
}

export type Availability = { ok: true; installed?: string[] } | { ok: false; reason: string };

const attempted = new Map<string, Promise<{ ok: boolean; output: string }>>();
let updated = false;

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function fileExists(p: string): boolean {
  try {
    fs.accessSync(p);
    return true;
  } catch {
    return false;
  }
}

/** True when `python` can import every module in `modules`. */
export async function pythonHas(python: string, modules: string[]): Promise<boolean> {
  if (!fileExists(python)) return false;
  const r = await run(python, ['-c', modules.map((m) => `import ${m}`).join('; ')], { timeoutMs: 30000 });
  return r.code === 0;
}

async function aptInstall(packages: string[], log: (line: string) => void): Promise<{ ok: boolean; output: string }> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !fileExists(policy);
  if (ownPolicy) fs.writeFileSync(policy, '#!/bin/sh\n# written by pyhost bench during apt-get install\nexit 101\n', { mode: 0o755 });
  try {
    const args = ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends', ...packages];
    log(`[bench] apt-get ${args.join(' ')}`);
    let r = await run('apt-get', args, { env, timeoutMs: 15 * 60_000 });
    if (r.code !== 0 && !updated) {
      updated = true;
      log('[bench] apt-get install failed; running apt-get update and retrying');
      await run('apt-get', ['update'], { env, timeoutMs: 10 * 60_000 });
      r = await run('apt-get', args, { env, timeoutMs: 15 * 60_000 });
    }
    return { ok: r.code === 0, output: r.output };
  } finally {
    if (ownPolicy) fs.rmSync(policy, { force: true });
  }
}

/**
 * Make sure every requirement is present, installing the missing ones with apt-get when root.
 * Never throws: returns why the peer cannot run instead.
 */
export async function ensure(reqs: Requirement[], log: (line: string) => void): Promise<Availability> {
  const missing: Requirement[] = [];
  for (const r of reqs) if (!(await r.present())) missing.push(r);
  if (missing.length === 0) return { ok: true };
  const what = missing.map((m) => m.what).join(', ');
  const packages = [...new Set(missing.flatMap((m) => m.packages))];
  if (!isRoot()) {
    return { ok: false, reason: `missing ${what}; not root, so not installing (run: sudo apt-get install -y ${packages.join(' ')})` };
  }
  if (fileExists('/usr/bin/apt-get') === false) {
    return { ok: false, reason: `missing ${what} and no apt-get on this machine (packages: ${packages.join(' ')})` };
  }
  const key = packages.join(' ');
  let pending = attempted.get(key);
  if (!pending) {
    pending = aptInstall(packages, log);
    attempted.set(key, pending);
  }
  const res = await pending;
  const still: Requirement[] = [];
  for (const r of missing) if (!(await r.present())) still.push(r);
  if (still.length > 0) {
    const tail = res.output.trimEnd().split('\n').slice(-8).join('\n    ');
    return { ok: false, reason: `missing ${still.map((s) => s.what).join(', ')} even after apt-get install -y ${key}\n    ${tail}` };
  }
  return { ok: true, installed: packages };
}
