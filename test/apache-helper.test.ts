import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { apacheAvailable, freePort, startApache, type ApacheServer } from './helpers/apache.js';

const HELLO = `
import os
def application(environ, start_response):
    body = ('hello pid=%d group=%r\\n' % (os.getpid(), environ.get('mod_wsgi.process_group'))).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
`;

/** App files must be readable by the Apache user (www-data when run as root). */
function appDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-apache-test-'));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'hello.wsgi'), HELLO, { mode: 0o644 });
  return dir;
}

/** No live (non-zombie) process left in the process group (the helper starts Apache as a group leader). */
function processGroupGone(pgid: number): boolean {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') return false;
    } catch {
      /* exited meanwhile */
    }
  }
  return true;
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

const available = apacheAvailable();
const maybe = available ? test : test.skip;
if (!available) test('apache2 + mod_wsgi not installed: skipped', (t) => t.pass());

maybe('freePort returns a usable port', async (t) => {
  const p = await freePort();
  t.true(p > 0 && p < 65536);
});

maybe('embedded mode: hello world, then clean stop', async (t) => {
  const app = appDir();
  let server: ApacheServer | undefined;
  try {
    server = await startApache({
      site: `WSGIScriptAlias / ${app}/hello.wsgi`,
      directives: { StartServers: 1, ThreadsPerChild: 5, MaxRequestWorkers: 10, ServerLimit: 2 },
    });
    t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await get(server.url + '/');
    t.is(r.status, 200);
    t.regex(r.text, /^hello pid=\d+ group=''\n$/);
    t.true(fs.existsSync(path.join(server.dir, 'httpd.conf')));
    t.regex(server.accessLog(), /"GET \/ HTTP\/1\.1" 200/);
    t.regex(server.errorLog(), /mod_wsgi/);
  } finally {
    if (server) await server.stop();
    fs.rmSync(app, { recursive: true, force: true });
  }
  t.true(processGroupGone(server!.pid), 'no apache process left');
  t.true(fs.existsSync(server!.dir), 'dir kept after stop');
});

maybe('daemon mode on two ports with the worker MPM', async (t) => {
  const app = appDir();
  const ports = [await freePort(), await freePort()];
  let server: ApacheServer | undefined;
  try {
    server = await startApache({
      ports,
      mpm: 'worker',
      site: [
        'WSGIDaemonProcess hello processes=1 threads=2',
        'WSGIProcessGroup hello',
        `WSGIScriptAlias / ${app}/hello.wsgi`,
      ].join('\n'),
    });
    t.is(server.port, ports[0]);
    t.deepEqual(server.ports, ports);
    for (const p of ports) {
      const r = await get(`http://127.0.0.1:${p}/`);
      t.is(r.status, 200);
      t.regex(r.text, /group='hello'/);
    }
  } finally {
    if (server) await server.stop();
    fs.rmSync(app, { recursive: true, force: true });
  }
  t.true(processGroupGone(server!.pid), 'no apache or daemon process left');
});

maybe('a bad config fails with the error text', async (t) => {
  const err = await t.throwsAsync(startApache({ site: 'WSGIDaemonProcess x bogus-option=1', startTimeoutMs: 5000 }));
  t.regex(err!.message, /apache2 exited during startup/);
  t.regex(err!.message, /Invalid option to WSGI daemon process definition/);
});

maybe('a busy port fails clearly', async (t) => {
  const net = await import('node:net');
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  try {
    const err = await t.throwsAsync(startApache({ site: '', ports: [port], startTimeoutMs: 5000 }));
    t.regex(err!.message, /exited during startup|no answer/);
    t.regex(err!.message, /Address already in use|could not bind/i);
  } finally {
    blocker.close();
  }
});
