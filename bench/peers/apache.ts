/**
 * Apache httpd 2.4 + mod_wsgi 4.9 (Debian's apache2 + libapache2-mod-wsgi-py3, Python 3.11),
 * two peers, both started through test/helpers/apache.ts (private ServerRoot, 127.0.0.1 only):
 *
 *  - apache-embedded: the WSGI app runs inside the Apache children (WSGIApplicationGroup
 *    %{GLOBAL}). This is the baseline every ratio is taken against ("mod_wsgi").
 *  - apache-daemon: Apache children proxy to mod_wsgi daemon processes,
 *    `WSGIDaemonProcess processes=2 threads=8` (the issue's setup), WSGIRestrictEmbedded On.
 *
 * Tuning (both): MPM event, 2 children (= cores) x (connections + 8) threads (40 at 32
 * connections). Why that many: the event MPM closes a child's idle keep-alive connections whenever
 * all of that child's workers are busy ("All workers are busy, will close keep-alive
 * connections"), and wrk counts every such close as a read error. Nothing stops all 32
 * connections from landing in one child (the first child up accepts them all), so each child gets
 * a worker per connection plus spares. Measured (hello, 5 s runs): 2 x 16 threads gave 160-555
 * read errors per run, 2 x 32 occasional ones (4-18), 2 x 40 none, at the same requests/s (idle
 * threads cost nothing: mod_wsgi only gives a thread a Python thread state when it runs Python).
 * Spare-thread limits are set so Apache never kills or forks children mid-run; unlimited
 * keep-alive requests (other peers do not cap them either); LogLevel warn; no access log (no
 * other peer writes one: issue 19 measured the bench's Apache at 11,047 requests/s on hello with
 * its access log, a similar Apache without one at 14,633).
 */
import { apacheAvailable, startApache } from '../../test/helpers/apache.js';
import { ensure, fileExists } from '../lib/install.js';
import { onInterrupt, run } from '../lib/proc.js';
import type { AppSpec } from '../lib/scenarios.js';
import type { Peer, RunningPeer, StartOptions } from './types.js';
import * as fs from 'node:fs';

export type ApacheMode = 'embedded' | 'daemon';

const CHILDREN = 2;

/** Enough workers in ONE child for every connection plus spares (see the file comment). */
export function threadsPerChild(connections: number): number {
  return Math.max(25, connections + 8);
}

function directives(connections: number): Record<string, string | number> {
  const tpc = threadsPerChild(connections);
  return {
    StartServers: CHILDREN,
    ServerLimit: CHILDREN,
    ThreadLimit: tpc,
    ThreadsPerChild: tpc,
    MaxRequestWorkers: CHILDREN * tpc,
    MinSpareThreads: 1,
    MaxSpareThreads: CHILDREN * tpc,
    MaxConnectionsPerChild: 0,
    KeepAlive: 'On',
    MaxKeepAliveRequests: 0,
    KeepAliveTimeout: 5,
    LogLevel: 'warn',
  };
}

function site(mode: ApacheMode, app: AppSpec, opts: StartOptions): string {
  const dir = `<Directory ${app.dir}>\n    Require all granted\n</Directory>`;
  if (mode === 'embedded') {
    return [`WSGIApplicationGroup %{GLOBAL}`, `WSGIScriptAlias / ${app.file}`, dir].join('\n');
  }
  return [
    'WSGIRestrictEmbedded On',
    `WSGIDaemonProcess bench processes=${opts.processes ?? 2} threads=${opts.threads ?? 8} display-name=%{GROUP} python-path=${app.dir}`,
    `WSGIScriptAlias / ${app.file} process-group=bench application-group=%{GLOBAL}`,
    dir,
  ].join('\n');
}

export async function start(mode: ApacheMode, app: AppSpec, opts: StartOptions): Promise<RunningPeer> {
  const server = await startApache({ site: site(mode, app, opts), ports: [opts.port], mpm: 'event', directives: directives(opts.connections), accessLog: false });
  const unregister = onInterrupt(() => server.stop());
  fs.appendFileSync(opts.logFile, `apache2 ServerRoot: ${server.dir}\n${fs.readFileSync(`${server.dir}/httpd.conf`, 'utf8')}\n`);
  const logTail = () => server.errorLog().trimEnd().split('\n').slice(-40).join('\n');
  return {
    url: server.url,
    pgid: server.pid,
    stop: async () => {
      fs.appendFileSync(opts.logFile, `--- error log ---\n${server.errorLog()}`);
      await server.stop();
      unregister();
    },
    logTail,
  };
}

async function versions(): Promise<Record<string, string>> {
  const v = await run('apache2', ['-v'], { timeoutMs: 5000 });
  const w = await run('dpkg-query', ['-W', '-f', '${Version}', 'libapache2-mod-wsgi-py3'], { timeoutMs: 5000 });
  const l = await run('ldd', ['/usr/lib/apache2/modules/mod_wsgi.so'], { timeoutMs: 5000 });
  return {
    apache: /Apache\/[\d.]+/.exec(v.output)?.[0] ?? '?',
    mod_wsgi: w.code === 0 ? w.stdout.trim() : '?',
    python: /libpython[\d.]+\.so/.exec(l.output)?.[0] ?? '?',
  };
}

function makePeer(mode: ApacheMode): Peer {
  return {
    id: `apache-${mode}`,
    label: mode === 'embedded' ? 'mod_wsgi embedded' : 'mod_wsgi daemon (2x8)',
    setup:
      mode === 'embedded'
        ? `Apache event MPM, ${CHILDREN} children x (connections + 8) threads, app embedded in the children, %{GLOBAL}, unlimited keep-alive`
        : `Apache event MPM, ${CHILDREN} children x (connections + 8) threads in front of WSGIDaemonProcess processes=2 threads=8, %{GLOBAL}`,
    ...(mode === 'embedded' ? { baseline: 'mod_wsgi' as const } : {}),
    supports: () => true,
    prepare: async (log) => {
      const r = await ensure(
        [
          { what: 'apache2', present: () => fileExists('/usr/sbin/apache2'), packages: ['apache2'] },
          { what: 'mod_wsgi (libapache2-mod-wsgi-py3)', present: () => fileExists('/usr/lib/apache2/modules/mod_wsgi.so'), packages: ['libapache2-mod-wsgi-py3'] },
        ],
        log,
      );
      if (r.ok && !apacheAvailable()) return { ok: false, reason: 'test/helpers/apache.ts: apacheAvailable() is false (apache2 binary or mod_wsgi.so not found)' };
      return r;
    },
    start: (app, opts) => start(mode, app, opts),
    versions,
  };
}

export const embedded = makePeer('embedded');
export const daemon = makePeer('daemon');
