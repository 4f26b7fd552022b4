/**
 * uWSGI 2.0 (Debian's uwsgi + uwsgi-plugin-python3, Python 3.11), serving HTTP itself.
 *
 * Chosen setup: `--http11-socket` (HTTP/1.1 keep-alive parsed in the workers, no router
 * process), 2 processes (= cores) x ceil(connections / 2) threads, --master, --thunder-lock,
 * logging off.
 *
 * Why (measured on the 2-core box, hello world, 32 connections, 5 s):
 *  - `--http-socket`, 2 processes: ~13k req/s, and uWSGI closes every connection without a
 *    `Connection: close` header, which wrk counts as one read error per request; adding the
 *    header fixes the errors but not the speed. With 8 threads it is slower still (~10k).
 *  - `--http11-socket`, 2 x 16 threads: ~28k req/s, no errors.
 *  - `--http` (a separate router process speaking uwsgi to the workers) costs an extra hop and
 *    a third busy process on 2 cores; it is what `uwsgi --http` users get, not the fastest.
 * Caveat, and why threads follow the connection count: in http11 mode a uWSGI core (thread) owns
 * a keep-alive connection until the client closes it. With fewer cores than connections the
 * surplus connections simply starve (2 x 4 threads "does" 33k req/s at 0.16 ms latency: only 8 of
 * 32 connections are ever served). wrk does not report starvation as errors, so the bench also
 * reports the effective concurrency (requests/s x mean latency) for every run.
 */
import type { AppSpec } from '../lib/scenarios.js';
import { ensure, fileExists } from '../lib/install.js';
import { run } from '../lib/proc.js';
import { debianPythonVersion, pythonEnv, startProcess } from './common.js';
import type { Peer, RunningPeer, StartOptions } from './types.js';

const UWSGI = '/usr/bin/uwsgi';
const PLUGIN = '/usr/lib/uwsgi/plugins/python3_plugin.so';

export function start(app: AppSpec, opts: StartOptions): Promise<RunningPeer> {
  const processes = opts.processes ?? 2;
  const threads = opts.threads ?? Math.max(1, Math.ceil(opts.connections / processes));
  const args = [
    '--plugins', 'python3',
    '--http11-socket', `127.0.0.1:${opts.port}`,
    '--master',
    '--processes', String(processes),
    '--threads', String(threads),
    '--thunder-lock',
    '--wsgi-file', app.file,
    '--callable', app.callable,
    '--chdir', app.dir,
    '--need-app',
    '--disable-logging',
    '--die-on-term',
    '--listen', '1024',
    '--buffer-size', '32768',
  ];
  return startProcess('uWSGI', UWSGI, args, opts, pythonEnv());
}

export const peer: Peer = {
  id: 'uwsgi',
  label: 'uWSGI (http11, 2 procs)',
  setup: 'uWSGI --http11-socket, 2 processes x ceil(connections/2) threads (16 at 32 connections), master, thunder-lock, no request logging',
  supports: () => true,
  prepare: (log) =>
    ensure(
      [
        { what: UWSGI, present: () => fileExists(UWSGI), packages: ['uwsgi-core'] },
        { what: `uWSGI python3 plugin (${PLUGIN})`, present: () => fileExists(PLUGIN), packages: ['uwsgi-plugin-python3'] },
      ],
      log,
    ),
  start,
  versions: async () => {
    const r = await run(UWSGI, ['--version'], { timeoutMs: 5000 });
    return { uwsgi: r.stdout.trim() || '?', python: `${await debianPythonVersion()} via ${PLUGIN}` };
  },
};
