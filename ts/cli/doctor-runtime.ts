/**
 * The checks of `pyhost doctor` that run Python: starts doctor-probe.ts in a child process for
 * one target and script, and turns what it saw into checks: C extension modules load in
 * %{GLOBAL} (libpython is global), the app loads, and which extension modules refuse
 * sub-interpreters (so the app would fall back to %{GLOBAL}).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { minorOf, type PythonInfo } from '../../scripts/python.js';
import type { Check, CheckStatus } from './doctor-checks.js';
import { PROBE_MARK, STAGE_MARK, type ImportFailure, type ProbeRequest, type ProbeResult, type SubinterpreterResult } from './doctor-probe.js';

const here = fileURLToPath(import.meta.url);
const PROBE = path.join(path.dirname(here), `doctor-probe${path.extname(here)}`);
const PROBE_TIMEOUT_MS = 120_000;

/** Runs the probe; a probe that crashes or hangs is reported as `crashed`, with what it was doing (`stage`). */
function runProbe(request: ProbeRequest): Promise<{ result?: ProbeResult; crashed?: string; stage?: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, PROBE, JSON.stringify(request)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(PROBE_MARK));
      if (line) return resolve({ result: JSON.parse(line.slice(PROBE_MARK.length)) as ProbeResult });
      const how = signal ? `was killed by ${signal}${signal === 'SIGKILL' ? ` (no answer within ${PROBE_TIMEOUT_MS / 1000} s)` : ''}` : `exited with status ${code}`;
      const stage = out.split('\n').filter((l) => l.startsWith(STAGE_MARK)).pop()?.slice(STAGE_MARK.length);
      resolve({ crashed: `${how}: ${err.trim().split('\n').slice(-3).join(' / ') || 'no output'}`, stage });
    });
  });
}

/** One import failure as a message and a fix: libpython not global, or a module built for another Python. */
function explainFailure(f: ImportFailure, python: PythonInfo): { message: string; fix: string } {
  if (f.missingSymbol && f.symbolInLibpython) {
    return {
      message: `C extension module ${f.module} does not load: undefined symbol ${f.missingSymbol}, which libpython defines: libpython's symbols are not global in this process (opened RTLD_LOCAL)`,
      fix: 'load pyhost through its package, which opens libpython RTLD_GLOBAL before its addon; if another addon loaded libpython first, run pyhost in a process of its own (a daemon process group)',
    };
  }
  if (f.missingSymbol) {
    return {
      message: `C extension module ${f.module} does not load: undefined symbol ${f.missingSymbol}, which Python ${python.version}'s libpython does not define: it was built for another Python`,
      fix: `reinstall or rebuild ${f.module} for Python ${minorOf(python.version)} (python${minorOf(python.version)} -m pip install --force-reinstall --no-cache-dir PACKAGE)`,
    };
  }
  return { message: `C extension module ${f.module} does not load: ${f.error}`, fix: `reinstall ${f.module} for Python ${minorOf(python.version)}` };
}

function subinterpreterChecks(results: SubinterpreterResult[], extensions: [string, string][], python: PythonInfo): Omit<Check, 'target'>[] {
  const own = results.find((r) => r.kind === 'own');
  const strict = results.find((r) => r.kind === 'strict')!;
  const checks: Omit<Check, 'target'>[] = [];
  const list = (names: string[]) => names.join(', ');
  const verb = (names: string[], one: string, many: string) => (names.length === 1 ? one : many);
  const modules = (n: number) => `${n} C extension module${n === 1 ? '' : 's'}`;
  const legacyOnly = strict.refused;
  const blocked = Object.keys(strict.blocked).length;
  const importedWith = blocked ? ` (and ${modules(blocked)} that ${blocked === 1 ? 'imports' : 'import'} one of them first)` : '';
  const refusing = blocked ? [...legacyOnly, ''] : legacyOnly; // for the verb's number
  const ownOnly = own ? own.refused.filter((m) => !strict.refused.includes(m)) : [];
  const noOwnGil = own ? '' : ` (Python ${python.version} has no own-GIL groups: 3.12+)`;
  if (!extensions.length) {
    checks.push({ check: 'subinterpreters', status: 'ok', message: `no C extension module is in use: none can refuse a sub-interpreter${noOwnGil}` });
  } else if (!own) {
    // Python 3.11: no own-GIL groups; legacy sub-interpreters load single-phase modules.
    if (legacyOnly.length) {
      checks.push({
        check: 'subinterpreters', status: 'warn',
        message: `${list(legacyOnly)}${importedWith} ${verb(refusing, 'uses', 'use')} single-phase init. Python ${python.version} has no own-GIL groups (3.12+); a shared-GIL group (a legacy sub-interpreter, as mod_wsgi's) loads ${verb(refusing, 'it', 'them')}, ` +
          `with one module state for every interpreter; a group with extensions: 'strict' refuses them and the app falls back to %{GLOBAL}`,
        fix: 'if the app misbehaves in a sub-interpreter, run it in %{GLOBAL} (the default application group)',
      });
    } else {
      checks.push({ check: 'subinterpreters', status: 'ok', message: `the ${modules(extensions.length)} in use load in strict sub-interpreters${noOwnGil}` });
    }
  } else if (legacyOnly.length || ownOnly.length) {
    if (legacyOnly.length) {
      checks.push({
        check: 'subinterpreters', status: 'warn',
        message: `${list(legacyOnly)}${importedWith} ${verb(refusing, 'refuses', 'refuse')} sub-interpreters (single-phase init): in an own-GIL group or one with extensions: 'strict', the app falls back to %{GLOBAL}`,
        fix: `run the app in %{GLOBAL} (the default) or a shared-GIL group with extensions: 'legacy', or upgrade ${legacyOnly[0]} to a release with multi-phase init`,
      });
    }
    if (ownOnly.length) {
      checks.push({
        check: 'subinterpreters', status: 'warn',
        message: `${list(ownOnly)} ${verb(ownOnly, 'does', 'do')} not support a per-interpreter GIL: in an own-GIL group the app falls back to %{GLOBAL}; a shared-GIL group loads ${verb(ownOnly, 'it', 'them')}`,
        fix: `use gil: 'shared' for this app, or upgrade ${ownOnly[0]}`,
      });
    }
  } else {
    checks.push({ check: 'subinterpreters', status: 'ok', message: `the ${modules(extensions.length)} in use load in own-GIL and strict sub-interpreters` });
  }
  for (const r of results) {
    for (const [module, error] of Object.entries(r.failed)) {
      checks.push({ check: 'subinterpreters', status: 'warn', message: `${module} fails in ${r.kind === 'own' ? 'an own-GIL' : 'a strict'} sub-interpreter: ${error}`, fix: 'run the app in %{GLOBAL}' });
    }
  }
  return checks;
}

/** The runtime checks of one target: Python starts, C extensions load, the app loads, sub-interpreter support. */
export async function runtimeChecks(
  request: ProbeRequest,
  python: PythonInfo,
  target: string | undefined,
): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Omit<Check, 'target'>) => checks.push({ ...c, ...(target ? { target } : {}) });
  const { result, crashed, stage } = await runProbe(request);
  if (!result) {
    // A crash in a sub-interpreter only matters to groups of that kind: %{GLOBAL} still runs the app.
    const inSubinterpreter = stage?.includes('sub-interpreter');
    add({
      check: inSubinterpreter ? 'subinterpreters' : request.script ? 'app' : 'start',
      status: inSubinterpreter ? 'warn' : 'fail',
      message: `the Python process ${crashed}${stage ? `, while ${stage}` : ''}`,
      fix: inSubinterpreter ? 'run the app in %{GLOBAL} (the default application group), not in such a group' : 'run the app under that Python directly to see where it fails',
    });
    return checks;
  }
  if (result.startError) {
    add({ check: 'start', status: 'fail', message: `Python ${python.version} does not start in pyhost: ${result.startError}`, fix: 'see the message; pyhost start-server would fail the same way' });
    return checks;
  }
  const failures = [...result.stdlibFailed, ...(result.app?.extensionFailure ? [result.app.extensionFailure] : [])];
  for (const f of failures) add({ check: 'extensions', status: 'fail', ...explainFailure(f, python) });
  if (!failures.length) {
    add({ check: 'extensions', status: 'ok', message: `C extension modules load in %{GLOBAL} (libpython is global): ${result.stdlibLoaded.join(', ') || 'none of the usual ones is a separate module here'}` });
  }
  if (request.script) {
    if (result.app?.loaded) add({ check: 'app', status: 'ok', message: `${request.script} loads in %{GLOBAL} and defines ${request.callable ?? 'application'}` });
    else add({ check: 'app', status: 'fail', message: `${request.script} does not load: ${result.app?.error?.split('\n')[0]}`, fix: 'fix that error: pyhost would report it on the first request' });
  }
  for (const c of subinterpreterChecks(result.subinterpreters, result.extensions, python)) add(c);
  return checks;
}

export function worst(checks: Check[]): CheckStatus {
  return checks.some((c) => c.status === 'fail') ? 'fail' : checks.some((c) => c.status === 'warn') ? 'warn' : 'ok';
}
