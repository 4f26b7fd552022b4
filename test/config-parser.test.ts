// The Apache configuration syntax: lines, words, sections, Include, Define, conditionals, and the
// file:line of every syntax error.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../ts/errors.js';
import { loadConfig } from '../ts/config/index.js';
import { logicalLines, nextWord, parseOptions, splitWords } from '../ts/config/lexer.js';
import { readConfig } from '../ts/config/reader.js';

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures/config');

const tempDirs: string[] = [];
/** A fresh temporary directory, removed after the tests. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
test.after.always(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });
const env = { HOME: '/home/tester', APP_ROOT: '/srv/from-env' };

/** Writes `files` (name -> text) into a fresh directory and returns the path of the first. */
function write(files: Record<string, string>): string {
  const dir = tempDir('pyhost-config-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return join(dir, Object.keys(files)[0]!);
}

/** Loads `text` as a config file and expects a ConfigError at `line` of that file (or `file`). */
function fails(t: import('ava').ExecutionContext, text: string | Record<string, string>, line: number, message: RegExp, file?: string): ConfigError {
  const path = write(typeof text === 'string' ? { 'site.conf': text } : text);
  const err = t.throws(() => loadConfig(path, { env }), { instanceOf: ConfigError })!;
  const expectedFile = file ? join(dirname(path), file) : path;
  t.is(err.file, expectedFile);
  t.is(err.line, line);
  t.regex(err.message, message);
  t.true(err.message.startsWith(`${expectedFile}:${line}: `));
  return err;
}

const where = { file: 'x.conf', line: 1 };

test('logical lines: continuation joins lines, comments only at line start, numbering from the first line', (t) => {
  const lines = logicalLines('# comment\n  \nListen 80\nWSGIDaemonProcess app \\\n   threads=4 \\\n processes=2\r\nAlias /a#b /srv/x # not a comment\n   # indented comment\n');
  t.deepEqual(lines, [
    { text: 'Listen 80', line: 3 },
    { text: 'WSGIDaemonProcess app    threads=4  processes=2', line: 4 },
    { text: 'Alias /a#b /srv/x # not a comment', line: 7 },
  ]);
});

test('logical lines: a comment ending in a backslash swallows the next line, as in Apache', (t) => {
  t.deepEqual(logicalLines('# comment \\\nListen 80\nListen 81'), [{ text: 'Listen 81', line: 3 }]);
});

test('words: quotes, backslash escapes as ap_getword_conf', (t) => {
  t.deepEqual(splitWords(`Alias "/with space/" '/srv/it''s' plain\\\\word "say \\"hi\\"" 'a\\'b' "c\\d"`, where),
    ['Alias', '/with space/', '/srv/it', 's', 'plain\\word', 'say "hi"', "a'b", 'c\\d']);
  t.deepEqual(splitWords('  a\t b  ', where), ['a', 'b']);
  t.is(nextWord('   ', 0, where), undefined);
});

test('words: an unterminated quote is an error saying what was expected', (t) => {
  const err = t.throws(() => splitWords('Alias "/static /srv', { file: 'x.conf', line: 7 }), { instanceOf: ConfigError })!;
  t.is(err.message, 'x.conf:7: unterminated quoted string: expected a closing " in: Alias "/static /srv');
});

test('options: name=value with quoted values, empty values, and a bad word', (t) => {
  t.deepEqual(parseOptions(` display-name='%{GROUP}' python-path="/a b:/c" home= user=x`, where, 'Invalid.'), [
    { name: 'display-name', value: '%{GROUP}' },
    { name: 'python-path', value: '/a b:/c' },
    { name: 'home', value: '' },
    { name: 'user', value: 'x' },
  ]);
  const err = t.throws(() => parseOptions('threads=2 oops', where, 'Invalid option.'), { instanceOf: ConfigError })!;
  t.is(err.message, "x.conf:1: Invalid option. Expected name=value, got 'oops'.");
});

test('directive names are case-insensitive and quoted arguments keep spaces', (t) => {
  const path = write({ 'site.conf': 'LISTEN 8000\nservername example.test\nwsgiscriptalias "/my app" "/srv/my app/wsgi.py"\nalias "/static files/" "/srv/my app/static/"\n' });
  const plan = loadConfig(path, { env });
  t.is(plan.listeners[0]!.port, 8000);
  t.is(plan.mainServer.serverName, 'example.test');
  t.is(plan.mainServer.mounts[0]!.url, '/my app');
  t.is(plan.mainServer.mounts[0]!.script, '/srv/my app/wsgi.py');
  t.is(plan.mainServer.aliases[0]!.url, '/static files/');
  t.is(plan.mainServer.aliases[0]!.path, '/srv/my app/static/');
});

test('line continuation: a WSGIDaemonProcess over three lines keeps its options and its first line', (t) => {
  const path = write({ 'site.conf': 'Listen 80\nServerName c.test\nWSGIDaemonProcess cont \\\n    processes=3 \\\n    threads=7\nWSGIBogus x\n' });
  const err = t.throws(() => loadConfig(path, { env }), { instanceOf: ConfigError })!;
  t.is(err.line, 6, 'numbering continues after the continued lines');
  const ok = write({ 'site.conf': 'Listen 80\nServerName c.test\nWSGIDaemonProcess cont \\\n    processes=3 \\\n    threads=7\n' });
  const g = loadConfig(ok, { env }).daemonGroups[0]!;
  t.is(g.line, 3);
  t.is(g.processes, 3);
  t.is(g.threads, 7);
});

test('Include: globs sorted by name, dotfiles and other names skipped, relative to the ServerRoot, inside sections', (t) => {
  const plan = loadConfig(join(fixtures, 'include/main.conf'), { env });
  t.deepEqual(plan.listeners.map((l) => l.port), [8001, 8002]);
  t.deepEqual(plan.files, [
    join(fixtures, 'include/main.conf'),
    join(fixtures, 'include/conf.d/10-a.conf'),
    join(fixtures, 'include/conf.d/20-b.conf'),
    join(fixtures, 'include/sites/site.conf'),
  ]);
  t.is(plan.listeners[0]!.file, join(fixtures, 'include/conf.d/10-a.conf'));
  t.is(plan.listeners[0]!.line, 2);
  const vhost = plan.virtualHosts[0]!;
  t.is(vhost.serverName, 'inc.test');
  t.is(vhost.mounts[0]!.script, '/srv/included/app.wsgi', 'Define from the main file is seen in the include');
  t.is(vhost.mounts[0]!.file, join(fixtures, 'include/sites/site.conf'));
  t.is(vhost.mounts[0]!.line, 1);
});

test('ServerRoot changes where later relative Includes are looked up', (t) => {
  const plan = loadConfig(join(fixtures, 'include/serverroot.conf'), { env });
  t.is(plan.serverRoot, join(fixtures, 'include/root'));
  t.is(plan.listeners[0]!.port, 8100);
});

test('Include: a cycle is an error at the Include line naming the chain', (t) => {
  const a = join(fixtures, 'cycle/a.conf');
  const b = join(fixtures, 'cycle/b.conf');
  const err = t.throws(() => loadConfig(a, { env }), { instanceOf: ConfigError })!;
  t.is(err.file, b);
  t.is(err.line, 3);
  t.is(err.message, `${b}:3: Include cycle: ${a} -> ${b} -> ${a}`);
});

test('Include errors: missing file, wildcard without match, the same with IncludeOptional', (t) => {
  fails(t, 'Listen 80\n\nInclude nope.conf\n', 3, /Could not open configuration file .*nope\.conf: No such file or directory/);
  fails(t, 'Listen 80\nInclude conf.d/*.conf\n', 2, /Include: Could not open directory .*conf\.d/);
  fails(t, { 'site.conf': 'Listen 80\nInclude *.none\n', 'other.conf': '' }, 2, /No matches for the wildcard '\*\.none'/);
  const ok = write({ 'site.conf': 'Listen 80\nIncludeOptional *.none\nIncludeOptional nope.conf\nIncludeOptional nodir/*.conf\n' });
  t.is(loadConfig(ok, { env }).files.length, 1);
  fails(t, 'Listen 80\nInclude\n', 2, /Include takes one argument/);
});

test('Define and ${VAR}: Defines first, then the environment; defines option; UnDefine', (t) => {
  const path = write({
    'site.conf': [
      'Define ROOT /srv/defined',
      'Define PORT 8123',
      'Listen ${PORT}',
      'ServerName d.test',
      'WSGIScriptAlias /a ${ROOT}/a.wsgi',
      'WSGIScriptAlias /b ${APP_ROOT}/b.wsgi',
      'WSGIScriptAlias /c ${FROM_OPTION}/c.wsgi',
      'Define HOME /shadowed',
      'WSGIScriptAlias /d ${HOME}/d.wsgi',
      'RewriteRule ^/x ${map:key}',
      '',
    ].join('\n'),
  });
  const plan = loadConfig(path, { env, defines: ['FROM_OPTION=/opt/x', 'FLAG'] });
  t.is(plan.listeners[0]!.port, 8123);
  t.deepEqual(plan.mainServer.mounts.map((m) => m.script), ['/srv/defined/a.wsgi', '/srv/from-env/b.wsgi', '/opt/x/c.wsgi', '/shadowed/d.wsgi']);
  fails(t, 'Listen 80\nDefine X 1\nUnDefine X\n\nServerName ${X}\n', 5, /Config variable \$\{X\} is not defined: expected 'Define X value'/);
  fails(t, 'Listen 80\nDefine FLAG\nServerName ${FLAG}\n', 3, /Config variable \$\{FLAG\} is not defined \(Define FLAG has no value\)/);
  fails(t, 'Define a:b 1\n', 1, /Variable name must not contain ':'/);
  fails(t, 'Listen 80\nInclude ${NOWHERE}/x.conf\n', 2, /Config variable \$\{NOWHERE\} is not defined/);
  fails(t, 'Listen 80\n<Directory ${NOWHERE}>\n</Directory>\n', 2, /Config variable \$\{NOWHERE\} is not defined/);
});

test('an undefined ${VAR} only matters in directives pyhost uses (ErrorLog ${APACHE_LOG_DIR}/... is ignored as in Apache)', (t) => {
  const path = write({ 'site.conf': 'Listen 80\nServerName v.test\nErrorLog ${APACHE_LOG_DIR}/error.log\nCustomLog ${APACHE_LOG_DIR}/access.log combined\n' });
  t.deepEqual(loadConfig(path, { env }).ignored.map((i) => [i.name, i.line]), [['ErrorLog', 3], ['CustomLog', 4]]);
  fails(t, 'Listen 80\nServerName v.test\nErrorLog ${APACHE_LOG_DIR}/error.log\nWSGIScriptAlias / ${APACHE_LOG_DIR}/x.wsgi\n', 4,
    /Config variable \$\{APACHE_LOG_DIR\} is not defined/);
  fails(t, 'Listen 80\nServerName v.test\nWSGISocketPrefix ${RUN_DIR}/wsgi\n', 3, /Config variable \$\{RUN_DIR\} is not defined/);
});

test('IfDefine, IfModule, IfVersion, IfFile: false sections are skipped unread, true ones kept', (t) => {
  const path = write({
    'site.conf': [
      'ServerName cond.test',
      '<IfDefine PROD>',
      '  Listen 80',
      '  ServerName ${UNDEFINED_BUT_SKIPPED}',
      '  <IfModule mod_wsgi.c>',
      '  </IfModule>',
      '</IfDefine>',
      '<IfDefine !PROD>',
      '  Listen 8080',
      '</IfDefine>',
      '<IfModule mod_ssl.c>',
      '  Listen 443',
      '</IfModule>',
      'LoadModule ssl_module modules/mod_ssl.so',
      '<IfModule ssl_module>',
      '  Listen 8443',
      '</IfModule>',
      '<IfModule !wsgi_module>',
      '  Listen 1',
      '</IfModule>',
      '<IfVersion < 2.4>',
      '  Listen 2',
      '</IfVersion>',
      '<IfVersion >= 2.4>',
      '  Listen 8081',
      '</IfVersion>',
      '<ifversion ~ ^2\\.4\\.>',
      '  Listen 8082',
      '</ifversion>',
      '<IfFile site.conf>',
      '  Listen 8083',
      '</IfFile>',
      '<IfFile !site.conf>',
      '  Listen 3',
      '</IfFile>',
      '',
    ].join('\n'),
  });
  t.deepEqual(loadConfig(path, { env }).listeners.map((l) => l.port), [8080, 8443, 8081, 8082, 8083]);
  t.deepEqual(loadConfig(path, { env: { ...env, UNDEFINED_BUT_SKIPPED: 'x' }, defines: ['PROD'] }).listeners.map((l) => l.port),
    [80, 8443, 8081, 8082, 8083]);
});

test('sections: mismatched, unclosed, stray closes, missing >, unknown names', (t) => {
  fails(t, 'Listen 80\n<VirtualHost *:80>\n  <Directory /srv>\n  </Location>\n</VirtualHost>\n', 4,
    /Expected <\/Directory> but saw <\/Location> \(the section opened at .*:3\)/);
  fails(t, 'Listen 80\n<VirtualHost *:80>\n  ServerName a.test\n', 2, /<VirtualHost> was not closed: expected <\/VirtualHost> before the end of/);
  fails(t, 'Listen 80\n\n</Directory>\n', 3, /<\/Directory> without matching <Directory> section/);
  fails(t, 'Listen 80\n<Directory /srv\n</Directory>\n', 2, /<Directory> directive missing closing '>'/);
  fails(t, 'Listen 80\n<Directory /srv>\n</Directory\n', 3, /<\/Directory> directive missing closing '>'/);
  fails(t, 'Listen 80\n<Bogus x>\n</Bogus>\n', 2, /Invalid command '<Bogus>', perhaps misspelled/);
  fails(t, 'Listen 80\n<IfModule mod_wsgi.c>\n<IfDefine X>\n</IfModule>\n', 4, /Expected <\/IfDefine> but saw <\/IfModule>/);
  fails(t, 'Listen 80\n<IfModule>\n</IfModule>\n', 2, /<IfModule> takes one argument, a module name/);
  fails(t, 'Listen 80\n<IfVersion >= two>\n</IfVersion>\n', 2, /<IfVersion> bad version 'two'/);
});

test('sections must be closed in the file that opens them', (t) => {
  fails(t, { 'site.conf': 'Listen 80\n<VirtualHost *:80>\nInclude inner.conf\n</VirtualHost>\n', 'inner.conf': 'ServerName x.test\n</VirtualHost>\n' },
    2, /<\/VirtualHost> without matching <VirtualHost> section/, 'inner.conf');
  fails(t, { 'site.conf': 'Listen 80\nInclude inner.conf\n', 'inner.conf': '\n<Location /x>\n' },
    2, /<Location> was not closed/, 'inner.conf');
});

test('readConfig keeps sections and their arguments; conditionals disappear', (t) => {
  const path = write({ 'site.conf': '<IfModule mod_wsgi.c>\n<Location "/a b">\nWSGIProcessGroup x\n</Location>\n</IfModule>\n' });
  const { nodes } = readConfig(path, { env });
  t.is(nodes.length, 1);
  const loc = nodes[0]!;
  t.is(loc.type, 'section');
  if (loc.type !== 'section') return;
  t.deepEqual([loc.name, loc.args, loc.line], ['Location', ['/a b'], 2]);
  t.deepEqual(loc.children.map((c) => [c.type, c.name, c.line]), [['directive', 'WSGIProcessGroup', 3]]);
});

test('a missing main file is a ConfigError naming it (line 0)', (t) => {
  const path = join(tmpdir(), 'pyhost-no-such-dir', 'site.conf');
  const err = t.throws(() => loadConfig(path, { env }), { instanceOf: ConfigError })!;
  t.is(err.message, `${path}:0: Could not open configuration file ${path}: No such file or directory`);
});
