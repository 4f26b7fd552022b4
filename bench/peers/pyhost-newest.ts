/**
 * pyhost on the newest Python it has a build for (3.12+: per-interpreter GIL), for the Flask page
 * only: Debian's Flask is pure Python, so it imports there with /usr/lib/python3/dist-packages on
 * the path. Two rows next to the 3.11 peers of the flask scenario:
 *
 *  - pyhost-embedded-newest: one process, `--application-group flask --gil own --replicas 2`:
 *    two own-GIL sub-interpreters of the application, run in parallel by the native front.
 *  - pyhost-daemon-newest: `--processes 2 --threads 8`, as pyhost-daemon.
 *
 * The other peers stay on Debian's 3.11 (their packages are built for it), so these rows compare
 * servers as a user of this machine can run them; pyenv's builds are compiled without PGO, which
 * costs them against Debian's. Skipped when no 3.12+ build exists or Flask does not import there.
 */
import * as path from 'node:path';
import { microPython } from '../lib/micro.js';
import { run } from '../lib/proc.js';
import type { AppSpec, Scenario } from '../lib/scenarios.js';
import { CLI } from './pyhost.js';
import { pythonEnv, startProcess } from './common.js';
import type { Peer, RunningPeer, StartOptions } from './types.js';

const DIST_PACKAGES = '/usr/lib/python3/dist-packages';

let newest: { executable: string; version: string } | undefined;

function args(mode: 'embedded' | 'daemon', app: AppSpec, opts: StartOptions): string[] {
  const a = [CLI, 'start-server', app.file, '--port', String(opts.port), '--host', '127.0.0.1', '--python', newest!.executable, '--python-path', DIST_PACKAGES];
  if (mode === 'embedded') a.push('--application-group', 'flask', '--gil', 'own', '--replicas', '2', '--threads', '4');
  else a.push('--processes', String(opts.processes ?? 2), '--threads', String(opts.threads ?? 8));
  return a;
}

function makePeer(mode: 'embedded' | 'daemon'): Peer {
  return {
    id: `pyhost-${mode}-newest`,
    label: mode === 'embedded' ? 'pyhost embedded, newest Python, 2 own-GIL replicas' : 'pyhost daemon (2x8), newest Python',
    setup:
      mode === 'embedded'
        ? 'pyhost start-server --python <newest build> --application-group flask --gil own --replicas 2 --threads 4 (flask only)'
        : 'pyhost start-server --python <newest build> --processes 2 --threads 8 (flask only)',
    supports: (s: Scenario) => s.id === 'flask',
    prepare: async () => {
      const py = microPython();
      if (!py) return { ok: false, reason: 'pyhost: no build found' };
      const [maj, min] = py.version.split('.').map(Number);
      if (!(maj! > 3 || (maj === 3 && min! >= 12))) return { ok: false, reason: `pyhost: the newest build is for Python ${py.version} (no per-interpreter GIL before 3.12)` };
      const probe = await run(py.executable, ['-c', `import sys; sys.path.append(${JSON.stringify(DIST_PACKAGES)}); import flask`], { timeoutMs: 30000 });
      if (probe.code !== 0) return { ok: false, reason: `Flask does not import on Python ${py.version} (${py.executable}): ${probe.output.trim().split('\n').pop()}` };
      newest = py;
      return { ok: true };
    },
    start: (app: AppSpec, opts: StartOptions): Promise<RunningPeer> =>
      startProcess(`pyhost ${mode} (Python ${newest!.version})`, process.execPath, args(mode, app, opts), opts, pythonEnv(), app.dir),
    versions: async () => ({ python: newest ? `${newest.version} (${path.basename(path.dirname(path.dirname(newest.executable)))})` : '?' }),
  };
}

export const embedded = makePeer('embedded');
export const daemon = makePeer('daemon');
