/**
 * The pyhost-daemon program of a build, and how it finds its libpython. The program needs
 * libpython3.X.so.1.0 by its soname and carries no run path (a prebuild cannot know where the
 * user's Python lives), so the dynamic loader must be pointed at the selected Python's copy:
 * when its default search (the ld.so cache) already finds that very file, the environment is
 * left alone (Debian's libpython3.11 in /usr/lib); otherwise the file's directory goes first on
 * LD_LIBRARY_PATH (pyenv's, a Python under /opt). The daemon's children inherit that variable.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PyhostError } from '../errors.js';
import { sameFile } from './libpython.js';
import { buildCommand, type ResolvedBuild } from './loader.js';

/** The daemon program of `build`; ERR_NO_BUILD naming `what` when the build has none. */
export function daemonProgram(build: ResolvedBuild, what: string): string {
  if (!build.daemon || !fs.existsSync(build.daemon)) {
    throw new PyhostError(
      'ERR_NO_BUILD',
      `${what}: the build for Python ${build.version} (${build.tag}) has no pyhost-daemon; rebuild it with: ${buildCommand(build.executable)}`,
    );
  }
  return build.daemon;
}

const cacheLookups = new Map<string, string | undefined>();
/** How `ldconfig -p` marks libraries of this process's architecture (others are skipped by the loader). */
const ARCH_MARK: Record<string, string> = { x64: 'x86-64', arm64: 'AArch64' };

/** Where the ld.so cache resolves `soname` (its first entry for this architecture), if it lists it. */
function fromLoaderCache(soname: string): string | undefined {
  if (cacheLookups.has(soname)) return cacheLookups.get(soname);
  let found: string | undefined;
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    if (!fs.existsSync(ldconfig)) continue;
    try {
      const out = execFileSync(ldconfig, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
      const mark = ARCH_MARK[process.arch];
      const line = out.split('\n').find((l) => l.trim().startsWith(soname + ' ') && (!mark || l.includes(mark)));
      found = line?.split(' => ')[1]?.trim();
    } catch {
      /* no usable cache: LD_LIBRARY_PATH decides */
    }
    break;
  }
  cacheLookups.set(soname, found);
  return found;
}

/**
 * `env` with LD_LIBRARY_PATH set so the daemon of `build` loads the selected Python's
 * libpython, or `env` itself when the loader finds that file anyway.
 */
export function daemonEnvironment(build: ResolvedBuild, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const selected = path.join(build.libpythonDir, build.libpythonName);
  const searched = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  // The loader tries LD_LIBRARY_PATH before its cache: the first directory there holding the
  // soname wins.
  const fromPath = searched.map((d) => path.join(d, build.libpythonName)).find((f) => fs.existsSync(f));
  const found = fromPath ?? fromLoaderCache(build.libpythonName);
  if (found && sameFile(found, selected)) return env;
  return { ...env, LD_LIBRARY_PATH: [build.libpythonDir, ...searched.filter((d) => d !== build.libpythonDir)].join(':') };
}
