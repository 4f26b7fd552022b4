// `pyhost check-config` output (formatPlan) and mod_wsgi's naming of application groups.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applicationGroupName, formatPlan, hostWithPort, loadConfig, processGroupName } from '../ts/config/index.js';

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures/config');

const tempDirs: string[] = [];
/** A fresh temporary directory, removed after the tests. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
test.after.always(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

const linesOf = (file: string): string[] => formatPlan(loadConfig(join(fixtures, file), { env: {} })).split('\n');

test('formatPlan: the Django site', (t) => {
  const lines = linesOf('django.conf');
  for (const expected of [
    `ServerRoot: "${fixtures}"`,
    'Config files: django.conf',
    'Listeners:',
    '  *:80                  django.conf:3',
    'Main server: example.com (port 80) [ServerName from ServerName]',
    'Main server example.com:',
    '  URL prefix / -> /path/to/mysite.com/mysite/wsgi.py (WSGIScriptAlias, django.conf:26)',
    '      process group:     example.com (daemon)',
    "      application group: %{GLOBAL} -> '' (main interpreter)",
    '      callable object:   application',
    '      python:            default, venv /path/to/venv',
    '  static /static/ -> /path/to/mysite.com/static/ (Alias, django.conf:16)',
    '  example.com: processes=1 (default) threads=15 python=default python-home=/path/to/venv python-path=/path/to/mysite.com user=(server user) defined in server level (django.conf:8)',
    'Embedded mode: disabled (WSGIRestrictEmbedded On)',
    '  LoadModule (django.conf:2)',
    '      access:            Require all granted',
  ]) t.true(lines.includes(expected), `missing line: ${expected}`);
  t.is(lines[lines.indexOf('Warnings:') + 1], '  (none)');
});

test('formatPlan: virtual hosts like apachectl -S, resolved group names, Python per daemon group', (t) => {
  const lines = linesOf('two-vhosts.conf');
  const vhostBlock = lines.slice(lines.indexOf('VirtualHost configuration:') + 1, lines.indexOf('VirtualHost configuration:') + 7);
  t.deepEqual(vhostBlock, [
    '*:8080                 is a NameVirtualHost',
    '         default server www.site1.test (two-vhosts.conf:5)',
    '         port 8080 namevhost www.site1.test (two-vhosts.conf:5)',
    '                 alias site1.test',
    '                 alias *.site1.test',
    '         port 8080 namevhost www.site2.test (two-vhosts.conf:17)',
  ]);
  for (const expected of [
    'Virtual host www.site1.test on *:8080 (default) (two-vhosts.conf:5):',
    "      application group: %{RESOURCE} -> 'www.site1.test:8080|'",
    '  URL prefix /status -> /srv/site1/status.wsgi (WSGIScriptAlias, two-vhosts.conf:12)',
    '  URL prefix / -> /srv/site1/app.wsgi (WSGIScriptAlias, two-vhosts.conf:13)',
    "      application group: %{RESOURCE} -> 'www.site1.test:8080|/status'",
    '      python:            python3.11, venv /srv/venvs/site1',
    'Virtual host www.site2.test on *:8080 (two-vhosts.conf:17):',
    "      application group: %{SERVER} -> 'www.site2.test:8080'",
    '      python:            python3.13, venv /srv/venvs/site2',
    '  site1: processes=2 threads=5 python=python3.11 python-home=/srv/venvs/site1 python-path=/srv/site1:/srv/lib user=site1 group=site1 home=/srv/site1 defined in <VirtualHost *:8080> www.site1.test (two-vhosts.conf:8)',
    '  site2: processes=1 (default) threads=8 python=python3.13 python-home=/srv/venvs/site2 user=(server user) defined in <VirtualHost *:8080> www.site2.test (two-vhosts.conf:19)',
    'Embedded mode: enabled',
  ]) t.true(lines.includes(expected), `missing line: ${expected}`);
  t.false(lines.some((l) => l.startsWith('Main server localhost')), 'an empty main server is not listed when virtual hosts exist');
});

test('formatPlan: per-request variation, warnings and ignored directives are printed', (t) => {
  const dir = tempDir('pyhost-format-');
  const file = join(dir, 'site.conf');
  writeFileSync(file, [
    'Listen 8000', 'ServerName fmt.test', 'Options None', 'WSGIDaemonProcess app memory-limit=1000',
    'WSGIScriptAlias /app /srv/app.wsgi process-group=app application-group=%{ENV:APP_GROUP}',
    '<Location /app/admin>', 'WSGIApplicationGroup admin', '</Location>', '',
  ].join('\n'));
  const lines = formatPlan(loadConfig(file, { env: {} })).split('\n');
  for (const expected of [
    '      application group: %{ENV:APP_GROUP} -> from the environment per request',
    '      varies below this URL: <Location /app/admin> (site.conf:6)',
    '  site.conf:4: WSGIDaemonProcess app: option memory-limit=1000 is not implemented by pyhost and is ignored',
    '  Options (site.conf:3)',
  ]) t.true(lines.includes(expected), `missing line: ${expected}`);
  t.false(lines.includes('Import scripts:'), 'a %{ENV:...} application group is not preloaded');
});

test('application group names follow mod_wsgi: %{RESOURCE}, %{SERVER}, %{GLOBAL}, %{HOST}, %{ENV:...}', (t) => {
  const ctx = { serverName: 'www.example.com', port: 80, scriptName: '/Blog' };
  t.is(applicationGroupName('%{RESOURCE}', ctx), 'www.example.com|/blog', 'SCRIPT_NAME is lower-cased (mod_wsgi 4.9)');
  t.is(applicationGroupName(undefined, ctx), 'www.example.com|/blog', '%{RESOURCE} is the default');
  t.is(applicationGroupName('%{RESOURCE}', { ...ctx, port: 443, scriptName: '' }), 'www.example.com|');
  t.is(applicationGroupName('%{RESOURCE}', { ...ctx, port: 8080, scriptName: '//a//b' }), 'www.example.com:8080|/a/b');
  t.is(applicationGroupName('%{SERVER}', ctx), 'www.example.com');
  t.is(applicationGroupName('%{SERVER}', { ...ctx, port: 8000 }), 'www.example.com:8000');
  t.is(applicationGroupName('%{GLOBAL}', ctx), '');
  t.is(applicationGroupName('%{HOST}', { ...ctx, host: 'alias.example.com', port: 8000 }), 'alias.example.com:8000');
  t.is(applicationGroupName('%{ENV:GROUP}', { ...ctx, env: { GROUP: 'tenant-a' } }), 'tenant-a');
  t.is(applicationGroupName('%{ENV:GROUP}', { ...ctx, env: { GROUP: '%{SERVER}' } }), 'www.example.com');
  t.is(applicationGroupName('%{ENV:GROUP}', ctx), '%{ENV:GROUP}', 'unset: the raw text, as mod_wsgi');
  t.is(applicationGroupName('my-app', ctx), 'my-app');
  t.is(processGroupName(undefined, ctx), '');
  t.is(processGroupName('%{GLOBAL}', ctx), '');
  t.is(processGroupName('site1', ctx), 'site1');
  t.is(hostWithPort('h', 443), 'h');
  t.is(hostWithPort('h', 8443), 'h:8443');
});
