/**
 * Issue 8, "Done means" (4): `pyhost check-config` prints the resolved plan of a valid file, as
 * `apachectl -S` does, and exits 0; every error exits non-zero naming `file:line` and what was
 * expected (files in test/fixtures/config-serve/check/). Unimplemented WSGIDaemonProcess options
 * are warnings naming file:line. `start-server --config` refuses an embedded mount under
 * WSGIRestrictEmbedded On, naming the mount's file:line.
 */
import test from 'ava';
import path from 'node:path';
import { FIXTURES, copyApps, freePort, runPyhost, template, worldTempDir, writeFile } from './helpers/config-serve.js';

const CHECK = path.join(FIXTURES, 'check');
const file = (name: string) => path.join(CHECK, name);
const check = (name: string) => runPyhost(['check-config', file(name)]);

test('a valid file: the plan (listeners, virtual hosts, mounts, daemon groups, warnings) and exit 0', async (t) => {
  const r = await check('valid.conf');
  t.is(r.code, 0, r.stderr);
  const out = r.stdout;
  // Listeners, with where they come from.
  t.regex(out, /^Listeners:\n {2}\*:8080 +valid\.conf:4\n {2}127\.0\.0\.1:8081 +valid\.conf:5$/m);
  // Name-based virtual hosts, the default one, aliases; the included file's host.
  t.regex(out, /^\*:8080 +is a NameVirtualHost$/m);
  t.regex(out, /default server a\.example \(valid\.conf:12\)/);
  t.regex(out, /port 8080 namevhost a\.example \(valid\.conf:12\)\n +alias www\.a\.example/);
  t.regex(out, /port 8080 namevhost b\.example \(valid\.conf:26\)/);
  t.regex(out, /^127\.0\.0\.1:8081 +c\.example \(conf\.d\/extra\.conf:2\)$/m);
  // Each URL prefix: script, process group, application group, Python.
  t.regex(out, new RegExp([
    String.raw`Virtual host a\.example on \*:8080 \(default\) \(valid\.conf:12\):`,
    String.raw` {2}URL prefix / -> /srv/a/wsgi\.py \(WSGIScriptAlias, valid\.conf:19\)`,
    String.raw` +process group: +site-a \(daemon\)`,
    String.raw` +application group: +%\{GLOBAL\} -> '' \(main interpreter\)`,
    String.raw` +callable object: +application`,
    String.raw` +python: +default, venv /srv/venvs/a`,
  ].join('\n')));
  t.regex(out, /URL prefix \/app -> \/srv\/b\/app\.wsgi \(WSGIScriptAlias, valid\.conf:29\)\n +process group: +site-b \(daemon\)\n +application group: +%\{RESOURCE\} -> 'b\.example:8080\|\/app'\n +callable object: +application\n +python: +python3\.13, venv \/srv\/venvs\/b/);
  t.regex(out, /URL prefix \/c -> \/srv\/c\/app\.wsgi \(WSGIScriptAlias, conf\.d\/extra\.conf:4\)\n +process group: +embedded\n +application group: +c-group\n +callable object: +application\n +python: +embedded, venv \/srv\/venvs\/embedded/);
  // Daemon groups: processes, threads, Python, venv, where defined.
  t.regex(out, /^ {2}site-a: processes=2 threads=5 python=default python-home=\/srv\/venvs\/a python-path=\/srv\/a:\/srv\/lib .*\(valid\.conf:15\)$/m);
  t.regex(out, /^ {2}site-b: processes=1 \(default\) threads=8 python=python3\.13 python-home=\/srv\/venvs\/b .*\(valid\.conf:28\)$/m);
  t.regex(out, /^Embedded mode: enabled, python-home \/srv\/venvs\/embedded$/m);
  // Unimplemented daemon options: warnings at the WSGIDaemonProcess line (a continued line: where it starts).
  t.regex(out, /^ {2}valid\.conf:15: .*listen-backlog=200 is not implemented/m);
  t.regex(out, /^ {2}valid\.conf:15: .*umask=0022 is not implemented/m);
  // Other Apache directives: listed once as ignored.
  t.regex(out, /^Ignored directives:\n {2}LoadModule \(valid\.conf:3\)\n {2}LogLevel \(valid\.conf:7\)$/m);
  // Require is enforced, and shown per URL prefix.
  t.regex(out, /^Access restrictions pyhost does not enforce:\n {2}\(none\)$/m);
  t.regex(out, /^Syntax OK$/m);
  t.is(r.stderr, '');
});

const ERRORS: [string, number, RegExp][] = [
  ['unknown-directive.conf', 4, /Invalid command 'WSGIScriptAliass'.*not a mod_wsgi directive/],
  ['unknown-daemon-option.conf', 5, /Invalid option to WSGI daemon process definition\. Unknown option 'bogus-option'/],
  ['unknown-alias-option.conf', 4, /Invalid option to WSGI script alias definition: unknown option 'bogus' \(expected process-group, application-group/],
  ['undefined-group.conf', 7, /No WSGI daemon process called 'nosuch' has been configured: expected a WSGIDaemonProcess nosuch/],
  ['unclosed.conf', 4, /<VirtualHost> was not closed: expected <\/VirtualHost>/],
  ['bad-threads.conf', 4, /Invalid thread count .*Expected a whole number from 0 to 65533, got threads=abc/],
  ['bad-processes.conf', 4, /Invalid process count .*Expected a whole number >= 1, got processes=0/],
  ['bad-timeout.conf', 4, /Invalid request timeout .*Expected a whole number .*>= 0, got request-timeout=-5/],
  ['bad-listen.conf', 2, /Invalid port '99999' in Listen 99999: expected a number from 1 to 65535/],
];

for (const [name, line, expected] of ERRORS) {
  test(`check-config ${name}: exit non-zero, ${name}:${line} and what was expected`, async (t) => {
    const r = await check(name);
    t.not(r.code, 0);
    t.is(r.stdout, '', 'no plan printed');
    const msg = r.stderr.trim();
    t.true(msg.includes(`${file(name)}:${line}: `), `names ${name}:${line}: ${msg}`);
    t.regex(msg, expected);
    t.is(msg.split('\n').length, 1, 'one line, no stack trace');
  });
}

test('an error in an included file names that file and its line', async (t) => {
  const r = await check('included-error.conf');
  t.not(r.code, 0);
  t.true(r.stderr.includes(`${file('conf.d/broken.inc')}:3: `), r.stderr);
  t.regex(r.stderr, /Unknown option 'no-such-option'/);
});

test('WSGIRestrictEmbedded On with an embedded mount: check-config and start-server both refuse it at the mount', async (t) => {
  const dir = worldTempDir('pyhost-check-');
  const apps = copyApps(path.join(dir, 'apps'));
  const port = await freePort();
  const conf = writeFile(dir, 'restrict-embedded.conf', template('check/restrict-embedded.conf', { PORT: port, APPS: apps }));
  const [checked, served] = await Promise.all([
    runPyhost(['check-config', conf]),
    runPyhost(['start-server', '--config', conf, '--python', '/usr/bin/python3.11'], { timeoutMs: 60_000 }),
  ]);
  t.not(checked.code, 0, checked.stdout);
  t.true(checked.stderr.includes(`${conf}:8: `), checked.stderr);
  t.regex(checked.stderr, /WSGIScriptAlias \/embedded runs in embedded mode \(no process group\) but WSGIRestrictEmbedded is On: give it a process-group= or a WSGIProcessGroup/);
  t.not(served.code, 0, `start-server must not serve it: ${served.stdout}`);
  t.is(served.signal, null, 'it exited by itself (not killed by the timeout)');
  t.true(served.stderr.includes(`${conf}:8: `), served.stderr);
  t.regex(served.stderr, /WSGIScriptAlias \/embedded runs in embedded mode \(no process group\) but WSGIRestrictEmbedded is On: give it a process-group= or a WSGIProcessGroup/);
  t.notRegex(served.stdout, /pyhost: serving/);
});
