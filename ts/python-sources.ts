/**
 * Python sources pyhost runs inside interpreters, kept as .py files under python/ (so they are
 * linted and tested as Python) and read once from the package.
 */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from './native/loader.js';

const cache = new Map<string, string>();

/** The source of python/<name>.py. */
export function pythonSource(name: string): string {
  let src = cache.get(name);
  if (src === undefined) {
    src = fs.readFileSync(path.join(packageRoot, 'python', `${name}.py`), 'utf8');
    cache.set(name, src);
  }
  return src;
}

/**
 * Python that installs python/<file>.py as module `module` in an interpreter unless it is there,
 * its code compiled with the file name `filename` (tracebacks can then tell its frames apart).
 */
export function moduleInstaller(file: string, module: string, filename: string): string {
  const key = `${file}\0${module}\0${filename}`;
  let code = installers.get(key);
  if (code === undefined) {
    code = installerSource(file, module, filename);
    installers.set(key, code);
  }
  return code;
}

const installers = new Map<string, string>();

function installerSource(file: string, module: string, filename: string): string {
  return `import sys, types
if ${JSON.stringify(module)} not in sys.modules:
    m = types.ModuleType(${JSON.stringify(module)})
    m.__file__ = ${JSON.stringify(filename)}
    sys.modules[${JSON.stringify(module)}] = m
    exec(compile(${JSON.stringify(pythonSource(file))}, ${JSON.stringify(filename)}, 'exec'), m.__dict__)
`;
}
