/**
 * The part of `pyhost doctor` that runs Python: a child process (one Python runtime per
 * process; a crash there is a finding, not the doctor's end) that starts an Engine the way
 * `pyhost start-server` would, then:
 * 1. loads the application script the way a mount with `preload` does (pyhost's own loader),
 *    in %{GLOBAL}, and lists the C extension modules loaded then;
 * 2. imports C extension modules of the standard library in %{GLOBAL} (they link no libpython:
 *    they load only when libpython's symbols are global);
 * 3. imports each of the modules of step 1 in sub-interpreters that check extensions:
 *    an own-GIL group (3.12+) and a shared-GIL group with extensions: 'strict', with
 *    fallback: 'error', to list the modules that refuse and would send the app to %{GLOBAL}.
 * Input: one JSON argument (ProbeRequest). Output: one line, PROBE_MARK + JSON (ProbeResult).
 */
import { Engine } from '../engine.js';
import { PythonError } from '../errors.js';
import type { Group } from '../group.js';
import { pythonSource } from '../python-sources.js';

export const PROBE_MARK = '@@pyhost-doctor ';
/** Printed before each step, so a crash can be told apart from a failure: what the process was doing. */
export const STAGE_MARK = '@@pyhost-doctor-stage ';

function stage(what: string): void {
  process.stdout.write(STAGE_MARK + what + '\n');
}

export interface ProbeRequest {
  python?: string;
  pythonHome?: string;
  pythonPath: string[];
  script?: string;
  callable?: string;
}

/** An extension module that did not import, and why. */
export interface ImportFailure {
  module: string;
  error: string;
  /** From "undefined symbol: NAME". */
  missingSymbol?: string;
  /** Whether libpython defines missingSymbol (then it was not global, else the module is foreign). */
  symbolInLibpython?: boolean;
}

export interface SubinterpreterResult {
  kind: 'own' | 'strict';
  /** Modules that refused (single-phase init, or no per-interpreter GIL support for 'own'). */
  refused: string[];
  /** Modules whose import stopped at a refused module they import first: name -> the refused one. */
  blocked: Record<string, string>;
  /** Other import errors in that kind of group. */
  failed: Record<string, string>;
}

export interface ProbeResult {
  startError?: string;
  version?: string;
  stdlibLoaded: string[];
  stdlibFailed: ImportFailure[];
  app?: { loaded: boolean; error?: string; extensionFailure?: ImportFailure };
  /** The C extension modules in sys.modules once the app was loaded (or Python started): [name, file]. */
  extensions: [string, string][];
  subinterpreters: SubinterpreterResult[];
}

/** Standard-library modules that are C extensions in most builds (those that are builtin are skipped). */
const STDLIB_EXTENSIONS = ['_ctypes', '_ssl', '_hashlib', '_decimal', '_sqlite3', '_socket', 'select', 'array', 'math', '_json', 'zlib', '_struct', '_datetime', 'unicodedata'];



/** The module an ImportError about a shared object names ("/x/mod.cpython-311-...so: undefined symbol: S"). */
function extensionOf(message: string): string {
  const m = /([^\s/]+?)\.[^\s/]*\.so: /.exec(message) ?? /([^\s/]+)\.so: /.exec(message);
  return m ? m[1] : '?';
}

/** An import failure, with the undefined symbol it names and whether libpython defines it. */
async function classify(main: Group, module: string, error: string): Promise<ImportFailure> {
  const symbol = /undefined symbol: (\S+)/.exec(error)?.[1];
  if (!symbol) return { module, error };
  const inLibpython = (await main.eval(`_pyhost_symbol_in_libpython(${JSON.stringify(symbol)})`)) as boolean | null;
  return { module, error, missingSymbol: symbol, symbolInLibpython: inLibpython ?? undefined };
}

async function subinterpreterImports(engine: Engine, kind: 'own' | 'strict', modules: [string, string][]): Promise<SubinterpreterResult> {
  const group = engine.group(`pyhost-doctor-${kind}`, kind === 'own' ? { gil: 'own', fallback: 'error', threads: 1 } : { extensions: 'strict', fallback: 'error', threads: 1 });
  const result: SubinterpreterResult = { kind, refused: [], blocked: {}, failed: {} };
  await group.exec(pythonSource('doctor_probe'));
  for (const [name, origin] of modules) {
    if (result.refused.includes(name)) continue;
    stage(`importing ${name} in ${kind === 'own' ? 'an own-GIL' : 'a strict'} sub-interpreter`);
    try {
      await group.exec(`_pyhost_import(${JSON.stringify(name)}, ${JSON.stringify(origin)})`);
    } catch (err) {
      const refusedModule = err instanceof PythonError ? err.refusedModule : undefined;
      if (refusedModule) {
        if (!result.refused.includes(refusedModule)) result.refused.push(refusedModule);
        if (refusedModule !== name) result.blocked[name] = refusedModule;
      } else {
        result.failed[name] = (err as Error).message;
      }
    }
  }
  result.refused.sort();
  await group.close();
  return result;
}

export async function probe(request: ProbeRequest): Promise<ProbeResult> {
  const result: ProbeResult = { stdlibLoaded: [], stdlibFailed: [], extensions: [], subinterpreters: [] };
  let engine: Engine;
  stage(`starting Python ${request.python ?? ''}`.trim());
  try {
    engine = await Engine.start({ python: request.python, pythonHome: request.pythonHome, pythonPath: request.pythonPath, logger: () => {} });
  } catch (err) {
    result.startError = (err as Error).message;
    return result;
  }
  try {
    result.version = engine.pythonVersion;
    const main = engine.group('%{GLOBAL}');
    await main.exec(pythonSource('doctor_probe'));
    if (request.script) {
      stage(`loading ${request.script} in %{GLOBAL}`);
      const mount = engine.mount(request.script, { group: '%{GLOBAL}', preload: true, callable: request.callable });
      try {
        await mount.ready;
        result.app = { loaded: true };
      } catch (err) {
        result.app = { loaded: false, error: (err as Error).message };
        const failure = err instanceof PythonError && err.type.endsWith('ImportError') ? await classify(main, extensionOf(err.message), err.message) : undefined;
        if (failure?.missingSymbol) result.app.extensionFailure = failure;
      } finally {
        mount.close();
      }
    }
    result.extensions = (await main.eval('_pyhost_loaded_extensions()')) as [string, string][];
    stage('importing C extension modules of the standard library in %{GLOBAL}');
    const [loaded, failed] = JSON.parse((await main.eval(`_pyhost_try_imports(${JSON.stringify(STDLIB_EXTENSIONS)})`)) as string) as [string[], ImportFailure[]];
    result.stdlibLoaded = loaded;
    for (const f of failed) result.stdlibFailed.push(await classify(main, f.module, f.error));
    const [major, minor] = engine.pythonVersion.split('.').map(Number);
    const kinds: ('own' | 'strict')[] = major === 3 && minor < 12 ? ['strict'] : ['own', 'strict'];
    for (const kind of kinds) result.subinterpreters.push(await subinterpreterImports(engine, kind, result.extensions));
  } finally {
    await engine.close();
  }
  return result;
}

const isEntry = process.argv[1] && /doctor-probe\.(js|ts)$/.test(process.argv[1]);
if (isEntry) {
  const request = JSON.parse(process.argv[2] ?? '{}') as ProbeRequest;
  probe(request).then(
    (r) => {
      process.stdout.write(PROBE_MARK + JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`pyhost doctor probe: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
