/**
 * gunicorn 20 (Debian's python3-gunicorn on /usr/bin/python3.11), two peers:
 *  - gunicorn-sync: 2 sync workers (gunicorn's default worker class; one request at a time per
 *    worker, no keep-alive: every request is a new connection, as in production behind nginx).
 *  - gunicorn-gthread: 2 workers x 8 threads (keep-alive supported, default 2 s).
 * 2 workers = the machine's 2 cores (gunicorn's docs suggest 2*cores+1 for I/O-bound apps; for
 * these CPU-bound micro apps more processes than cores only adds context switches).
 * --worker-tmp-dir /dev/shm avoids heartbeat writes to disk (gunicorn's own docker advice); no
 * access log (gunicorn's default), log level warning.
 */
import { DEBIAN_PYTHON, APPS_DIR, type AppSpec } from '../lib/scenarios.js';
import { ensure } from '../lib/install.js';
import { debianPythonRequirements, debianPythonVersion, distVersion, pythonEnv, startProcess } from './common.js';
import type { Peer, RunningPeer, StartOptions } from './types.js';

export type GunicornKind = 'sync' | 'gthread';

export function start(kind: GunicornKind, app: AppSpec, opts: StartOptions): Promise<RunningPeer> {
  const processes = opts.processes ?? 2;
  const args = [
    '-m', 'gunicorn',
    '--bind', `127.0.0.1:${opts.port}`,
    '--workers', String(processes),
    '--worker-class', kind,
    ...(kind === 'gthread' ? ['--threads', String(opts.threads ?? 8)] : []),
    '--chdir', APPS_DIR,
    '--worker-tmp-dir', '/dev/shm',
    '--log-level', 'warning',
    `${app.module}:${app.callable}`,
  ];
  return startProcess(`gunicorn ${kind}`, DEBIAN_PYTHON, args, opts, pythonEnv());
}

function makePeer(kind: GunicornKind): Peer {
  return {
    id: `gunicorn-${kind}`,
    label: kind === 'sync' ? 'gunicorn sync (2 workers)' : 'gunicorn gthread (2x8)',
    setup:
      kind === 'sync'
        ? 'gunicorn 2 sync workers, no keep-alive (sync workers close each connection), /dev/shm heartbeat'
        : 'gunicorn 2 gthread workers x 8 threads, keep-alive 2 s (default), /dev/shm heartbeat',
    supports: () => true,
    prepare: (log) =>
      ensure(
        debianPythonRequirements([
          { module: 'gunicorn', packages: ['gunicorn', 'python3-gunicorn'], what: `gunicorn for ${DEBIAN_PYTHON}` },
        ]),
        log,
      ),
    start: (app, opts) => start(kind, app, opts),
    versions: async () => ({ gunicorn: await distVersion('gunicorn'), python: await debianPythonVersion() }),
  };
}

export const sync = makePeer('sync');
export const gthread = makePeer('gthread');
