// The plan a mod_wsgi configuration describes: mounts with their effective settings, daemon groups
// with mod_wsgi's defaults, virtual hosts, warnings, ignored directives and validation errors.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../ts/errors.js';
import { type Mount, type ServerPlan, aliasPrefixLength, loadConfig, settingsFor } from '../ts/config/index.js';

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures/config');

const tempDirs: string[] = [];
/** A fresh temporary directory, removed after the tests. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
test.after.always(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });
const env = {};

function write(text: string): string {
  const dir = tempDir('pyhost-plan-');
  writeFileSync(join(dir, 'site.conf'), text);
  return join(dir, 'site.conf');
}

function fails(t: ExecutionContext, text: string, line: number, message: RegExp): void {
  const path = write(text);
  const err = t.throws(() => loadConfig(path, { env }), { instanceOf: ConfigError })!;
  t.is(err.file, path, err.message);
  t.is(err.line, line, err.message);
  t.regex(err.message, message);
  t.true(err.message.startsWith(`${path}:${line}: `));
}

const mount = (s: ServerPlan, url: string): Mount => {
  const m = s.mounts.find((x) => x.url === url);
  if (!m) throw new Error(`no mount ${url}`);
  return m;
};

test('the Django example of the mod_wsgi documentation', (t) => {
  const file = join(fixtures, 'django.conf');
  const plan = loadConfig(file, { env });
  t.is(plan.file, file);
  t.is(plan.serverRoot, fixtures);
  t.deepEqual(plan.listeners, [{ address: '*', port: 80, from: 'Listen', file, line: 3 }]);
  t.is(plan.virtualHosts.length, 0);
  t.true(plan.restrictEmbedded);
  const main = plan.mainServer;
  t.is(main.serverName, 'example.com');
  t.is(main.port, 80);
  t.is(main.mounts.length, 1);
  const m = main.mounts[0]!;
  t.is(m.directive, 'WSGIScriptAlias');
  t.is(m.url, '/');
  t.is(m.script, '/path/to/mysite.com/mysite/wsgi.py');
  t.is(m.line, 26);
  t.deepEqual(m.settings, {
    chunkedRequest: false, mapHeadToGet: 'Auto', processGroup: 'example.com', applicationGroup: '%{GLOBAL}', callableObject: 'application', passAuthorization: false, scriptReloading: true,
  });
  t.is(m.origins.processGroup, `server level at ${file}:9`);
  t.is(m.origins.applicationGroup, `server level at ${file}:10`);
  t.is(m.origins.callableObject, 'default');
  t.false(m.variesByUrl);
  t.false(m.preload);
  t.deepEqual(main.aliases.map((a) => [a.url, a.path, a.line]), [
    ['/robots.txt', '/path/to/mysite.com/static/robots.txt', 12],
    ['/favicon.ico', '/path/to/mysite.com/static/favicon.ico', 13],
    ['/media/', '/path/to/mysite.com/media/', 15],
    ['/static/', '/path/to/mysite.com/static/', 16],
  ]);
  t.is(plan.daemonGroups.length, 1);
  const g = plan.daemonGroups[0]!;
  t.is(g.name, 'example.com');
  t.is(g.line, 8);
  t.deepEqual(g.definedIn, { kind: 'server' });
  t.is(g.pythonHome, '/path/to/venv');
  t.is(g.pythonHomeFrom, 'python-home');
  t.deepEqual(g.pythonPath, ['/path/to/mysite.com']);
  t.is(g.processes, 1);
  t.false(g.processesExplicit);
  t.is(g.threads, 15);
  t.deepEqual(plan.warnings, []);
  t.deepEqual(plan.ignored, [{ name: 'LoadModule', file, line: 2 }]);
  // Require is access control now: one layer per section, in Apache's merge order.
  t.deepEqual(main.access.layers.map((l) => [l.label, l.line]), [
    ['<Directory /path/to/mysite.com/static>', 18], ['<Directory /path/to/mysite.com/media>', 22], ['<Files wsgi.py>', 29],
  ]);
  t.deepEqual(plan.unenforced, []);
});

test('two virtual hosts, each with its own daemon group, venv and Python', (t) => {
  const file = join(fixtures, 'two-vhosts.conf');
  const plan = loadConfig(file, { env });
  const [v1, v2] = plan.virtualHosts;
  t.truthy(v1 && v2);
  t.deepEqual([v1!.address, v1!.port, v1!.isDefault, v1!.serverName], ['*', 8080, true, 'www.site1.test']);
  t.deepEqual([v2!.address, v2!.port, v2!.isDefault, v2!.serverName], ['*', 8080, false, 'www.site2.test']);
  t.deepEqual(v1!.serverAliases, ['site1.test', '*.site1.test']);
  t.is(mount(v1!, '/').settings.processGroup, 'site1');
  t.is(mount(v1!, '/status').settings.applicationGroup, '%{RESOURCE}');
  t.is(mount(v1!, '/status').origins.applicationGroup, `WSGIScriptAlias options at ${file}:12`);
  t.deepEqual(v1!.mounts.map((m) => m.url), ['/status', '/'], 'mounts keep their order: the first match wins');
  t.deepEqual(plan.warnings, []);
  t.deepEqual(v1!.aliases.map((a) => [a.url, a.path]), [['/static/', '/srv/site1/static/']]);
  t.is(mount(v2!, '/app').settings.processGroup, 'site2');
  t.is(mount(v2!, '/app').settings.applicationGroup, '%{SERVER}');
  t.is(v2!.mounts.length, 1, 'a virtual host does not see another one\'s mounts');

  const [g1, g2] = plan.daemonGroups;
  t.like(g1, {
    name: 'site1', line: 8, processes: 2, processesExplicit: true, threads: 5, python: 'python3.11', pythonHome: '/srv/venvs/site1',
    displayName: '%{GROUP}', user: 'site1', group: 'site1', home: '/srv/site1', lang: 'en_US.UTF-8', locale: 'en_US.UTF-8',
    maximumRequests: 0, restartInterval: 0, inactivityTimeout: 0, requestTimeout: 0, deadlockTimeout: 300, gracefulTimeout: 15,
    shutdownTimeout: 5, startupTimeout: 0, queueTimeout: 0, socketTimeout: 60,
  });
  t.deepEqual(g1!.pythonPath, ['/srv/site1', '/srv/lib']);
  t.deepEqual(g1!.definedIn, { kind: 'virtualhost', serverName: 'www.site1.test', label: '<VirtualHost *:8080>', file, line: 5 });
  t.like(g2, {
    name: 'site2', processes: 1, processesExplicit: false, threads: 8, python: 'python3.13', pythonHome: '/srv/venvs/site2',
    maximumRequests: 1000, restartInterval: 3600, inactivityTimeout: 300, requestTimeout: 60, deadlockTimeout: 120, gracefulTimeout: 30,
    shutdownTimeout: 10, startupTimeout: 15, queueTimeout: 45, socketTimeout: 75,
  });
  t.deepEqual(g2!.unimplemented, {});
});

test('scope resolution: alias options > Location > Files > Directory > VirtualHost > server', (t) => {
  const file = join(fixtures, 'scopes.conf');
  const plan = loadConfig(file, { env });
  const v = plan.virtualHosts[0]!;
  t.like(mount(v, '/plain').settings, { processGroup: 'pg-vhost', applicationGroup: 'vhost-app', callableObject: 'scopes_callable', passAuthorization: true, scriptReloading: true });
  t.is(mount(v, '/plain').origins.passAuthorization, `server level at ${file}:13`);
  t.like(mount(v, '/loc').settings, { processGroup: 'pg-location', applicationGroup: 'location-app' });
  t.is(mount(v, '/loc').origins.processGroup, `<Location /loc> at ${file}:31`);
  t.like(mount(v, '/dir').settings, { processGroup: 'pg-directory', applicationGroup: 'vhost-app', callableObject: 'dir_callable', scriptReloading: false });
  t.is(mount(v, '/dir').origins.callableObject, `<Directory /srv/scopes/dir> at ${file}:46`, 'the longer Directory wins though written first');
  t.like(mount(v, '/both').settings, { processGroup: 'pg-location', callableObject: 'dir_callable' }, 'Location beats Directory');
  t.like(mount(v, '/files').settings, { processGroup: 'pg-files', callableObject: 'dir_callable' }, 'Files beats Directory');
  t.deepEqual(mount(v, '/opts').settings, {
    chunkedRequest: false, mapHeadToGet: 'Auto', processGroup: 'pg-alias', applicationGroup: 'alias-app', callableObject: 'alias_callable', passAuthorization: false, scriptReloading: false,
  });
  t.is(mount(v, '/opts').origins.processGroup, `WSGIScriptAlias options at ${file}:25`);
});

test('scope resolution: Locations below a mount and WSGIScriptAliasMatch vary per request', (t) => {
  const plan = loadConfig(join(fixtures, 'scopes.conf'), { env });
  const v = plan.virtualHosts[0]!;
  const parent = mount(v, '/parent');
  t.true(parent.variesByUrl);
  t.is(parent.settings.applicationGroup, 'vhost-app');
  t.is(settingsFor(parent, '/parent/admin', parent.script).settings.applicationGroup, 'admin-app');
  t.is(settingsFor(parent, '/parent/admin/users', parent.script).settings.applicationGroup, 'admin-app');
  t.is(settingsFor(parent, '/parent/administrator', parent.script).settings.applicationGroup, 'vhost-app', 'Location matches whole segments');
  t.false(mount(v, '/plain').variesByUrl, 'unrelated Locations are not layers of /plain');

  const match = mount(v, '^/match/([^/]+)');
  t.deepEqual(match.regex, { source: '^/match/([^/]+)', flags: '' });
  t.is(match.script, '/srv/scopes/match/$1.wsgi');
  t.true(match.variesByUrl);
  t.is(match.settings.applicationGroup, 'vhost-app');
  t.is(match.settings.callableObject, 'scopes_callable', 'a Directory containing every expansion applies always');
  t.is(settingsFor(match, '/match/foo', '/srv/scopes/match/foo.wsgi').settings.applicationGroup, 'match-app');
});

test('main-server mounts are inherited by virtual hosts and resolved in their scope', (t) => {
  const plan = loadConfig(join(fixtures, 'scopes.conf'), { env });
  const inMain = mount(plan.mainServer, '/inherited');
  t.false(inMain.inherited);
  t.like(inMain.settings, { processGroup: 'pg-server', applicationGroup: 'server-app', callableObject: 'server_callable' });
  const v = plan.virtualHosts[0]!;
  const inVhost = mount(v, '/inherited');
  t.true(inVhost.inherited);
  t.like(inVhost.settings, { processGroup: 'pg-vhost', applicationGroup: 'vhost-app', callableObject: 'scopes_callable' });
  t.is(v.mounts[v.mounts.length - 1], inVhost, 'inherited mounts come after the virtual host\'s own');
});

test('daemon group defaults, WSGIPythonHome and Timeout inheritance, preload and import scripts', (t) => {
  const path = write([
    'Listen 80', 'ServerName d.test', 'Timeout 120', 'WSGIPythonHome /srv/venv', 'WSGIPythonPath /srv/a:/srv/b',
    'WSGIDaemonProcess plain', 'WSGIDaemonProcess one processes=1 python-home=/srv/own',
    'WSGIScriptAlias /p /srv/p.wsgi process-group=plain application-group=%{GLOBAL}',
    'WSGIScriptAlias /q /srv/q.wsgi process-group=plain application-group=%{RESOURCE}',
    'WSGIImportScript /srv/warm.py process-group=one application-group=%{GLOBAL}', '',
  ].join('\n'));
  const plan = loadConfig(path, { env });
  const [plain, one] = plan.daemonGroups;
  t.like(plain, { processes: 1, processesExplicit: false, threads: 15, pythonHome: '/srv/venv', pythonHomeFrom: 'WSGIPythonHome', socketTimeout: 120 });
  t.deepEqual(plain!.pythonPath, [], 'WSGIPythonPath is for embedded mode only');
  t.like(one, { processes: 1, processesExplicit: true, pythonHome: '/srv/own', pythonHomeFrom: 'python-home' });
  t.is(plan.pythonHome, '/srv/venv');
  t.deepEqual(plan.pythonPath, ['/srv/a', '/srv/b']);
  t.is(plan.timeout, 120);
  t.true(mount(plan.mainServer, '/p').preload);
  t.false(mount(plan.mainServer, '/q').preload, 'a %{...} application group is not preloaded');
  t.deepEqual(plan.importScripts.map((i) => [i.script, i.processGroup, i.applicationGroup, i.line]), [
    ['/srv/warm.py', 'one', '%{GLOBAL}', 10],
    ['/srv/p.wsgi', 'plain', '%{GLOBAL}', 8],
  ]);
});

test('warnings: unimplemented daemon options and mod_wsgi directives, ports without Listen', (t) => {
  const path = write([
    'Listen 80', 'ServerName w.test', 'WSGIRestrictEmbedded On', 'WSGISocketPrefix /var/run/wsgi',
    'WSGIDaemonProcess app stack-size=524288 cpu-time-limit=10 memory-limit=100000000 threads=2',
    'WSGIScriptAlias /daemon /srv/d.wsgi process-group=app',
    '<VirtualHost *:8081>', 'ServerName other.test', '</VirtualHost>', '',
  ].join('\n'));
  const plan = loadConfig(path, { env });
  t.deepEqual(plan.warnings.map((w) => [w.line, w.message]), [
    [4, 'WSGISocketPrefix is a mod_wsgi directive pyhost does not implement; ignored'],
    [5, 'WSGIDaemonProcess app: option stack-size=524288 is not implemented by pyhost and is ignored'],
    [5, 'WSGIDaemonProcess app: option cpu-time-limit=10 is not implemented by pyhost and is ignored'],
    [5, 'WSGIDaemonProcess app: option memory-limit=100000000 is not implemented by pyhost and is ignored'],
    [7, '<VirtualHost *:8081> names port 8081, which no Listen directive opens: Apache would never serve it; pyhost listens on *:8081'],
  ]);
  t.deepEqual(plan.daemonGroups[0]!.unimplemented, { 'stack-size': '524288', 'cpu-time-limit': '10', 'memory-limit': '100000000' });
  t.is(plan.daemonGroups[0]!.threads, 2);
  t.deepEqual(plan.listeners.map((l) => [l.port, l.from]), [[80, 'Listen'], [8081, 'VirtualHost']]);
});

test('an embedded mount under WSGIRestrictEmbedded On is an error at its line', (t) => {
  const path = write(['Listen 80', 'ServerName w.test', 'WSGIRestrictEmbedded On', 'WSGIScriptAlias /embedded /srv/e.wsgi', ''].join('\n'));
  const err = t.throws(() => loadConfig(path, { env }), { instanceOf: ConfigError });
  t.is(err!.line, 4);
  t.regex(err!.message, /WSGIScriptAlias \/embedded runs in embedded mode .* WSGIRestrictEmbedded is On: give it a process-group=/);
});

test('ignored Apache directives are listed once, at their first occurrence', (t) => {
  const path = write([
    'LoadModule wsgi_module modules/mod_wsgi.so', 'Listen 80', 'ServerName i.test', 'LogLevel warn', 'ErrorLog /var/log/e.log',
    '<Directory />', '  Options None', '  AllowOverride None', '  Require all denied', '</Directory>',
    '<Directory /srv>', '  options Indexes', '  <RequireAll>', '    Require all granted', '  </RequireAll>', '</Directory>',
    'CustomLog /var/log/a.log combined', 'LogLevel info', '',
  ].join('\n'));
  const plan = loadConfig(path, { env });
  t.deepEqual(plan.ignored.map((i) => [i.name, i.line]), [
    ['LoadModule', 1], ['LogLevel', 4], ['ErrorLog', 5], ['Options', 7], ['CustomLog', 17],
  ]);
});

test('virtual hosts: defaults per address:port, several addresses, ServerName inheritance and ports', (t) => {
  const path = write([
    'Listen 80', 'Listen 127.0.0.1:8443 https', 'Listen [::1]:9000', 'ServerName main.test',
    '<VirtualHost *:80>', 'ServerName a.test', '</VirtualHost>',
    '<VirtualHost _default_:80 127.0.0.1:8443>', 'ServerName https://b.test:8443', '</VirtualHost>',
    '<VirtualHost [::1]:9000>', '</VirtualHost>', '',
  ].join('\n'));
  const plan = loadConfig(path, { env });
  t.deepEqual(plan.listeners.map((l) => [l.address, l.port, l.protocol]), [['*', 80, undefined], ['127.0.0.1', 8443, 'https'], ['::1', 9000, undefined]]);
  const [a, b, c] = plan.virtualHosts;
  t.deepEqual(a!.addresses, [{ address: '*', port: 80, isDefault: true }]);
  t.deepEqual(b!.addresses, [{ address: '*', port: 80, isDefault: false }, { address: '127.0.0.1', port: 8443, isDefault: true }]);
  t.deepEqual([b!.serverName, b!.serverNamePort], ['b.test', 8443]);
  t.deepEqual([c!.address, c!.port, c!.serverName, c!.serverNameFrom], ['::1', 9000, 'main.test', 'main server']);
});

test('errors: unknown or inaccessible daemon groups, with the line that names them', (t) => {
  fails(t, 'Listen 80\nServerName e.test\nWSGIScriptAlias / /srv/a.wsgi process-group=nope\n', 3,
    /No WSGI daemon process called 'nope' has been configured: expected a WSGIDaemonProcess nope directive \(defined: none\)/);
  fails(t, 'Listen 80\nServerName e.test\nWSGIDaemonProcess real\n<Location /x>\n  WSGIProcessGroup typo\n</Location>\n', 5,
    /No WSGI daemon process called 'typo' has been configured.*\(defined: real\)/);
  fails(t, 'Listen 80\nServerName e.test\nWSGIImportScript /srv/x.py process-group=ghost application-group=%{GLOBAL}\n', 3, /No WSGI daemon process called 'ghost'/);
  fails(t, [
    'Listen 80', 'ServerName e.test', '<VirtualHost *:80>', 'ServerName a.test', 'WSGIDaemonProcess only-a', '</VirtualHost>',
    '<VirtualHost *:80>', 'ServerName b.test', 'WSGIScriptAlias / /srv/b.wsgi', 'WSGIProcessGroup only-a', '</VirtualHost>', '',
  ].join('\n'), 10, /Daemon process called 'only-a' cannot be accessed by WSGIScriptAlias \/ .* in <VirtualHost \*:80> b\.test: it is defined in <VirtualHost \*:80> a\.test \(.*:5\), so only virtual hosts with ServerName a\.test may use it/);
  fails(t, 'Listen 80\nServerName e.test\nWSGIDaemonProcess twice\n\nWSGIDaemonProcess twice threads=2\n', 5,
    /Name duplicates previous WSGI daemon definition: 'twice' is already defined at .*:3/);
});

test('a daemon group defined in one virtual host serves another with the same ServerName (port 80 and 443)', (t) => {
  const path = write([
    'Listen 80', 'Listen 443', 'ServerName e.test',
    '<VirtualHost *:80>', 'ServerName www.site1.com', 'WSGIDaemonProcess www.site1.com processes=2 threads=25', 'WSGIProcessGroup www.site1.com',
    'WSGIScriptAlias / /srv/site1.wsgi', '</VirtualHost>',
    '<VirtualHost *:443>', 'ServerName www.site1.com', 'WSGIProcessGroup www.site1.com', 'WSGIScriptAlias / /srv/site1.wsgi', '</VirtualHost>', '',
  ].join('\n'));
  const plan = loadConfig(path, { env });
  t.is(plan.virtualHosts[1]!.mounts[0]!.settings.processGroup, 'www.site1.com');
});

test('errors: WSGIDaemonProcess names, options and values', (t) => {
  const pre = 'Listen 80\nServerName e.test\n';
  fails(t, `${pre}WSGIDaemonProcess\n`, 3, /Name of WSGI daemon process not supplied/);
  fails(t, `${pre}WSGIDaemonProcess g threads=many\n`, 3, /Invalid thread count for WSGI daemon process\. Expected a whole number from 0 to 65533, got threads=many/);
  fails(t, `${pre}WSGIDaemonProcess g processes=0\n`, 3, /Invalid process count for WSGI daemon process/);
  fails(t, `${pre}WSGIDaemonProcess g request-timeout=1.5\n`, 3, /Invalid request timeout for WSGI daemon process/);
  fails(t, `${pre}WSGIDaemonProcess g user=root\n`, 3, /WSGI process blocked from running as root/);
  fails(t, `${pre}WSGIDaemonProcess g home=relative/dir\n`, 3, /Invalid home directory for WSGI daemon process\. Expected an absolute path/);
  fails(t, `${pre}\nWSGIDaemonProcess g colour=blue\n`, 4, /Invalid option to WSGI daemon process definition\. Unknown option 'colour'/);
  fails(t, `${pre}WSGIDaemonProcess g threads\n`, 3, /Invalid option to WSGI daemon process definition\. Expected name=value, got 'threads'/);
  fails(t, `${pre}WSGIDaemonProcess g script-user=a script-group=b\n`, 3, /Only one of script-user and script-group allowed/);
  fails(t, `${pre}WSGIDaemonProcess g header-buffer-size=100\n`, 3, /Invalid header-buffer-size value for WSGI daemon process\. Expected 0 or a size >= 8192/);
});

test('errors: WSGIScriptAlias, WSGIImportScript, Alias and regular expressions', (t) => {
  const pre = 'Listen 80\nServerName e.test\n';
  fails(t, `${pre}WSGIScriptAlias /only-url\n`, 3, /WSGIScriptAlias requires at least two arguments/);
  fails(t, `${pre}WSGIScriptAlias / /srv/a.wsgi procss-group=x\n`, 3, /Invalid option to WSGI script alias definition: unknown option 'procss-group'/);
  fails(t, `${pre}WSGIScriptAlias / /srv/a.wsgi pass-authorization=maybe\n`, 3, /Invalid value for authorization flag/);
  fails(t, `${pre}WSGIScriptAliasMatch ^/(unclosed /srv/$1.wsgi\n`, 3, /Regular expression could not be compiled: '\^\/\(unclosed'/);
  fails(t, `${pre}<LocationMatch "^/[">\n</LocationMatch>\n`, 3, /Regex could not be compiled: <LocationMatch \^\/\[>/);
  fails(t, `${pre}WSGIImportScript /srv/x.py process-group=%{GLOBAL}\n`, 3, /Name of WSGI application group required/);
  fails(t, `${pre}WSGIImportScript /srv/x.py application-group=%{GLOBAL}\n`, 3, /Name of WSGI process group required/);
  fails(t, `${pre}Alias /only\n`, 3, /Alias takes two arguments, a fakename and a realname/);
  fails(t, `${pre}AliasMatch ^/(x /srv/$1\n`, 3, /Regular expression could not be compiled/);
});

test('errors: directives and sections in the wrong place', (t) => {
  const pre = 'Listen 80\nServerName e.test\n';
  fails(t, `${pre}<VirtualHost *:80>\n  WSGIPythonHome /srv/venv\n</VirtualHost>\n`, 4, /WSGIPythonHome cannot occur within <VirtualHost> section/);
  fails(t, `${pre}<Location /x>\n  WSGIScriptAlias / /srv/a.wsgi\n</Location>\n`, 4, /WSGIScriptAlias not allowed here \(<Location \/x>\): allowed in server level and <VirtualHost>/);
  fails(t, `${pre}<Directory /srv>\n  WSGIDaemonProcess d\n</Directory>\n`, 4, /WSGIDaemonProcess not allowed here/);
  fails(t, `${pre}<Directory /srv>\n  WSGIRestrictEmbedded On\n</Directory>\n`, 4, /WSGIRestrictEmbedded not allowed here/);
  fails(t, `${pre}ServerAlias x.test\n`, 3, /ServerAlias only used in <VirtualHost>/);
  fails(t, `${pre}<VirtualHost *:80>\nListen 81\n</VirtualHost>\n`, 4, /Listen cannot occur within <VirtualHost> section/);
  fails(t, `${pre}<VirtualHost *:80>\n<VirtualHost *:81>\n</VirtualHost>\n</VirtualHost>\n`, 4, /<VirtualHost> cannot occur within <VirtualHost> section/);
  fails(t, `${pre}<Location /x>\n<Directory /srv>\n</Directory>\n</Location>\n`, 4, /<Directory> cannot occur within directory context \(<Location \/x>\)/);
  fails(t, `${pre}<Location /x>\n<Files a.wsgi>\n</Files>\n</Location>\n`, 4, /<Files> cannot occur within <Location> section/);
  fails(t, `${pre}<VirtualHost>\n</VirtualHost>\n`, 3, /<VirtualHost> directive requires additional arguments/);
  fails(t, `${pre}<Directory>\n</Directory>\n`, 3, /<Directory> directive requires additional arguments/);
  fails(t, `${pre}<If "%{HTTPS} == 'on'">\n  WSGIProcessGroup x\n</If>\n`, 4, /WSGIProcessGroup inside <If> .* cannot be honoured/);
  fails(t, `${pre}<VirtualHost *:80>\nServerRoot /\n</VirtualHost>\n`, 4, /ServerRoot cannot occur within <VirtualHost> section/);
});

test('errors: unknown WSGI directives, argument counts and values', (t) => {
  const pre = 'Listen 80\nServerName e.test\n';
  fails(t, `${pre}WSGIProcesGroup x\n`, 3, /Invalid command 'WSGIProcesGroup', perhaps misspelled/);
  fails(t, `${pre}WSGIProcessGroup a b\n`, 3, /WSGIProcessGroup takes one argument, the name of a daemon process group .*, got 2/);
  fails(t, `${pre}WSGIApplicationGroup\n`, 3, /WSGIApplicationGroup takes one argument/);
  fails(t, `${pre}WSGIPassAuthorization yes\n`, 3, /WSGIPassAuthorization must be one of: Off \| On, got 'yes'/);
  fails(t, `${pre}WSGIScriptReloading\n`, 3, /WSGIScriptReloading must be one of: Off \| On/);
  fails(t, `${pre}WSGIRestrictEmbedded 1\n`, 3, /WSGIRestrictEmbedded must be one of: Off \| On/);
  fails(t, 'Listen http\n', 1, /Port must be specified: expected Listen \[address:\]port, got 'http'/);
  fails(t, 'Listen 70000\n', 1, /Invalid port '70000'/);
  fails(t, 'Listen 80\nListen 80\n', 2, /Cannot define multiple Listeners on the same IP:port/);
  fails(t, `${pre}Timeout soon\n`, 3, /Timeout takes a whole number of seconds, got 'soon'/);
  fails(t, `${pre}ServerName a.test:99999\n`, 3, /The port number "99999" is outside the appropriate range/);
  fails(t, `${pre}<VirtualHost *:http>\n</VirtualHost>\n`, 3, /Invalid port 'http' in <VirtualHost \*:http>/);
});

test('static aliases: one-argument Alias inside <Location>, inheritance, shadowed entries warn (AH00671)', (t) => {
  const path = write([
    'Listen 80', 'ServerName s.test', 'Alias /shared/ /srv/shared/',
    '<Location /assets>', '  Alias /srv/assets', '</Location>',
    'WSGIScriptAlias / /srv/root.wsgi', 'WSGIScriptAlias /status /srv/status.wsgi',
    'AliasMatch ^/img/(.*)$ /srv/images/$1', 'Alias /img/logo.png /srv/logo.png',
    '<VirtualHost *:80>', 'ServerName v.test', 'Alias /own/ /srv/own/', '</VirtualHost>', '',
  ].join('\n'));
  const plan = loadConfig(path, { env });
  t.deepEqual(plan.mainServer.aliases.map((a) => [a.directive, a.url, a.path, a.regex?.source]), [
    ['Alias', '/shared/', '/srv/shared/', undefined], ['Alias', '/assets', '/srv/assets', undefined],
    ['AliasMatch', '^/img/(.*)$', '/srv/images/$1', '^/img/(.*)$'], ['Alias', '/img/logo.png', '/srv/logo.png', undefined],
  ]);
  t.deepEqual(plan.virtualHosts[0]!.aliases.map((a) => [a.url, a.inherited]), [['/own/', false], ['/shared/', true], ['/assets', true], ['^/img/(.*)$', true], ['/img/logo.png', true]]);
  t.deepEqual(plan.warnings.map((w) => [w.line, w.message]), [
    [8, `The WSGIScriptAlias directive will probably never match because it overlaps an earlier WSGIScriptAlias (/ at ${path}:7): list more specific URLs first`],
    [10, `The Alias directive will probably never match because it overlaps an earlier AliasMatch (^/img/(.*)$ at ${path}:9): list more specific URLs first`],
  ]);
  fails(t, 'Listen 80\nServerName s.test\n<Directory /srv>\n  Alias /x /srv/x\n</Directory>\n', 4, /Alias not allowed here \(<Directory \/srv>\)/);
  fails(t, 'Listen 80\nServerName s.test\n<Location /x>\n  Alias /x /srv/x\n</Location>\n', 4, /Alias inside <Location> takes one argument/);
});

test('aliasPrefixLength: mod_alias / mod_wsgi prefix matching', (t) => {
  t.is(aliasPrefixLength('/app/x', '/app'), 4);
  t.is(aliasPrefixLength('/app', '/app'), 4);
  t.is(aliasPrefixLength('/apple', '/app'), 0);
  t.is(aliasPrefixLength('/static', '/static/'), 0);
  t.is(aliasPrefixLength('/static/a.css', '/static/'), 8);
  t.is(aliasPrefixLength('//app//x', '/app/'), 7);
  t.is(aliasPrefixLength('/anything', '/'), 1);
});
