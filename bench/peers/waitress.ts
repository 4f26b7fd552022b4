/**
 * waitress 2 (Debian's python3-waitress on /usr/bin/python3.11): one process, 8 threads
 * (waitress is single-process by design; its default is 4 threads, 8 matches the thread count
 * used for gunicorn gthread and mod_wsgi daemon). Keep-alive on (waitress default), no access log.
 */
import { DEBIAN_PYTHON, type AppSpec } from '../lib/scenarios.js';
import { ensure } from '../lib/install.js';
import { debianPythonRequirements, debianPythonVersion, distVersion, pythonEnv, startProcess } from './common.js';
import type { Peer, RunningPeer, StartOptions } from './types.js';

export function start(app: AppSpec, opts: StartOptions): Promise<RunningPeer> {
  const args = ['-m', 'waitress', `--listen=127.0.0.1:${opts.port}`, `--threads=${opts.threads ?? 8}`, `${app.module}:${app.callable}`];
  return startProcess('waitress', DEBIAN_PYTHON, args, opts, pythonEnv());
}

export const peer: Peer = {
  id: 'waitress',
  label: 'waitress (8 threads)',
  setup: 'waitress 1 process x 8 threads, keep-alive, no access log',
  supports: () => true,
  prepare: (log) =>
    ensure(
      debianPythonRequirements([
        { module: 'waitress', packages: ['python3-waitress'], what: `waitress for ${DEBIAN_PYTHON}` },
      ]),
      log,
    ),
  start,
  versions: async () => ({ waitress: await distVersion('waitress'), python: await debianPythonVersion() }),
};
