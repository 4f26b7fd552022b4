/**
 * Real Python installations that lack what pyhost needs, made from an installed one: a prefix
 * with its own copy of the interpreter and links to the standard library, so Python takes the
 * new directory as its prefix. The interpreter still runs on the original's libpython.
 * - {@link pythonWithoutHeaders}: no include/ directory (Debian's python3.X without -dev).
 * - {@link staticConfiguredPython}: its sysconfig is that of a build configured without
 *   --enable-shared (Py_ENABLE_SHARED 0, LDLIBRARY libpython3.X.a), as a static-only Python says.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pythonFacts } from './pythons.js';

function relocatedCopy(python: string, dir: string, editSysconfig?: (source: string) => string): string {
  const facts = pythonFacts(python);
  const stdlib = facts.stdlib;
  const libName = path.basename(stdlib);
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'lib', libName), { recursive: true });
  const exe = path.join(dir, 'bin', 'python3');
  fs.copyFileSync(fs.realpathSync(python), exe);
  fs.chmodSync(exe, 0o755);
  for (const name of fs.readdirSync(stdlib)) {
    const from = path.join(stdlib, name);
    const to = path.join(dir, 'lib', libName, name);
    if (editSysconfig && /^_sysconfigdata_.*\.py$/.test(name)) fs.writeFileSync(to, editSysconfig(fs.readFileSync(from, 'utf8')));
    else fs.symlinkSync(from, to);
  }
  return exe;
}

/** A copy of `python` whose prefix has no C headers. Returns its executable. */
export function pythonWithoutHeaders(python: string, dir: string): string {
  return relocatedCopy(python, dir);
}

/** A copy of `python` configured as a static-only build (no shared libpython). Returns its executable. */
export function staticConfiguredPython(python: string, dir: string): string {
  return relocatedCopy(python, dir, (source) => {
    const edited = source
      .replace(/'Py_ENABLE_SHARED': 1/, "'Py_ENABLE_SHARED': 0")
      .replace(/'LDLIBRARY': 'libpython([\d.]+)\.so'/, "'LDLIBRARY': 'libpython$1.a'")
      .replace(/'INSTSONAME': 'libpython([\d.]+)\.so[\d.]*'/, "'INSTSONAME': 'libpython$1.a'");
    if (edited === source) throw new Error(`${python}'s sysconfig does not describe a shared build`);
    return edited;
  });
}
