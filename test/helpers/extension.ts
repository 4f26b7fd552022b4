/**
 * Compiles test/fixtures/ext/singlephase.c (module `pyhost_singlephase`) with gcc for a given
 * Python, into a directory to put on sys.path. Cached per Python version, ABI and source.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonFacts } from './pythons.js';

export const SINGLE_PHASE_MODULE = 'pyhost_singlephase';
const SOURCE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'ext', 'singlephase.c');

/** Include flags from `<python>-config --includes` when it exists, else from sysconfig. */
function includeFlags(python: string): string[] {
  const dir = path.dirname(python);
  const base = path.basename(python);
  for (const cfg of [path.join(dir, `${base}-config`), path.join(dir, 'python3-config')]) {
    if (!fs.existsSync(cfg)) continue;
    try {
      const out = execFileSync(cfg, ['--includes'], { encoding: 'utf8', timeout: 30000 }).trim();
      // The config script must belong to this Python (pyenv shims and /usr/bin share names).
      if (out.includes(pythonFacts(python).include)) return out.split(/\s+/).filter(Boolean);
    } catch {
      /* fall back to sysconfig */
    }
  }
  return [`-I${pythonFacts(python).include}`];
}

/**
 * Builds the fixture for `python` (once per version, source and module name); returns the
 * directory holding `<module><EXT_SUFFIX>`. `module` (default `pyhost_singlephase`) names a copy,
 * for tests that need a module no interpreter of the process has loaded yet.
 */
export function buildSinglePhaseExtension(python: string, module = SINGLE_PHASE_MODULE): { dir: string; file: string; module: string } {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(module)) throw new Error(`bad module name ${module}`);
  const facts = pythonFacts(python);
  const source = fs.readFileSync(SOURCE);
  const key = crypto.createHash('sha1').update(source).update(facts.include).update(facts.extSuffix).digest('hex').slice(0, 10);
  const dir = path.join(os.tmpdir(), 'pyhost-test-ext', `${facts.version}-${key}`);
  const file = path.join(dir, module + facts.extSuffix);
  if (fs.existsSync(file)) return { dir, file, module };
  fs.mkdirSync(dir, { recursive: true });
  // Two test processes may build at once: compile to a private name, then rename atomically.
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    execFileSync('gcc', ['-shared', '-fPIC', '-O1', `-DMODNAME=${module}`, ...includeFlags(python), SOURCE, '-o', tmp], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120000,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`gcc could not build ${SOURCE} for ${python}: ${e.stderr || e.message}`);
  }
  fs.renameSync(tmp, file);
  return { dir, file, module };
}
