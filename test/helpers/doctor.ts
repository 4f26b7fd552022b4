/**
 * Runs `pyhost doctor` (from the TypeScript source, as a user would run the command) and reads
 * its --json report; builds the extension module fixtures the doctor tests import.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import type { Check } from '../../ts/cli/doctor-checks.js';
import { REPO_ROOT } from './child.js';
import { pythonFacts } from './pythons.js';
import { runNode, type Ran } from './run-node.js';

export const DOCTOR_FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'doctor');

export interface DoctorRun extends Ran {
  report: { ok: boolean; checks: Check[]; plan?: string };
}

/** `pyhost doctor ARGS --json`; fails the test if the output is not a report. */
export async function doctor(t: ExecutionContext, args: string[], env: Record<string, string> = {}): Promise<DoctorRun> {
  const r = await runNode(['--import', 'tsx', path.join(REPO_ROOT, 'ts', 'cli.ts'), 'doctor', ...args, '--json'], env, 180_000);
  try {
    return { ...r, report: JSON.parse(r.stdout) as DoctorRun['report'] };
  } catch {
    t.fail(`pyhost doctor did not print a JSON report (exit ${r.code}):\n${r.output}`);
    throw new Error('no report');
  }
}

/** The one check named `name` (of `target`), failing the test if there is not exactly one. */
export function checkOf(t: ExecutionContext, run: DoctorRun, name: string, target?: string): Check {
  const found = run.report.checks.filter((c) => c.check === name && (target === undefined || c.target?.startsWith(target)));
  t.is(found.length, 1, `one ${name} check${target ? ` for ${target}` : ''} in ${JSON.stringify(run.report.checks, null, 1)}`);
  return found[0] ?? { check: name, status: 'fail', message: '(missing)' };
}

/** Asserts the run failed (exit 1) on check `name`; returns that check for its message and fix. */
export function failedCheck(t: ExecutionContext, run: DoctorRun, name: string, target?: string): Check {
  t.is(run.code, 1, run.output);
  const c = checkOf(t, run, name, target);
  t.is(c.status, 'fail', JSON.stringify(c));
  return c;
}

/** Compiles test/fixtures/doctor/broken_extension.c (module pyhost_broken) for `python`; returns its directory. */
export function buildBrokenExtension(python: string): string {
  const facts = pythonFacts(python);
  const source = path.join(DOCTOR_FIXTURES, 'broken_extension.c');
  const key = crypto.createHash('sha1').update(fs.readFileSync(source)).update(facts.include).digest('hex').slice(0, 10);
  const dir = path.join(os.tmpdir(), 'pyhost-test-ext', `broken-${facts.version}-${key}`);
  const file = path.join(dir, `pyhost_broken${facts.extSuffix}`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    execFileSync('gcc', ['-shared', '-fPIC', '-O1', `-I${facts.include}`, source, '-o', tmp], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    fs.renameSync(tmp, file);
  }
  return dir;
}
