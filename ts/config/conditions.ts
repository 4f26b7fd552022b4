/**
 * The conditional sections evaluated while reading: `<IfModule>`, `<IfDefine>`, `<IfVersion>` and
 * `<IfFile>`. A false section's content is skipped unread, as in Apache (so an undefined `${VAR}`
 * inside it is no error).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Where } from './lexer.js';
import { apacheRegex } from './patterns.js';
import type { Variables } from './variables.js';

/** The Apache version pyhost answers `<IfVersion>` with. */
export const APACHE_VERSION = '2.4.62';

/** Modules pyhost implements (besides Debian's compiled-in ones): `<IfModule>` finds them loaded. */
const IMPLEMENTED = ['wsgi', 'alias', 'authz_core', 'authz_host', 'authz_user', 'authz_groupfile', 'access_compat',
  'authn_core', 'authn_file', 'auth_basic', 'setenvif'];

/**
 * Modules `<IfModule>` considers loaded: those Debian's apache2 compiles in, those pyhost
 * implements itself (mod_wsgi, mod_alias and the access modules), and every module a
 * `LoadModule` read so far names.
 */
export class LoadedModules {
  private readonly names = new Set<string>([
    'core.c', 'core_module', 'mod_so.c', 'so_module', 'mod_watchdog.c', 'watchdog_module',
    'http_core.c', 'http_module', 'mod_log_config.c', 'log_config_module', 'mod_logio.c', 'logio_module',
    'mod_version.c', 'version_module', 'mod_unixd.c', 'unixd_module',
    ...IMPLEMENTED.flatMap((m) => [`mod_${m}.c`, `${m}_module`]),
  ]);

  /** Records `LoadModule id path`: the identifier and its conventional source name `mod_x.c`. */
  load(id: string): void {
    this.names.add(id);
    if (id.endsWith('_module')) this.names.add(`mod_${id.slice(0, -'_module'.length)}.c`);
  }

  /** Whether `<IfModule name>` is true (name is `mod_x.c` or `x_module`). */
  has(name: string): boolean {
    return this.names.has(name);
  }
}

const negated = (arg: string): [boolean, string] => (arg.startsWith('!') ? [true, arg.slice(1)] : [false, arg]);

function oneArg(section: string, args: string[], what: string, where: Where): string {
  if (args.length !== 1 || args[0] === '' || args[0] === '!') {
    throw new ConfigError(where.file, where.line, `<${section}> takes one argument, ${what}`);
  }
  return args[0]!;
}

/** `<IfModule [!]module>`. */
export function ifModule(args: string[], modules: LoadedModules, where: Where): boolean {
  const [not, name] = negated(oneArg('IfModule', args, 'a module name such as mod_wsgi.c or wsgi_module', where));
  return modules.has(name) !== not;
}

/** `<IfDefine [!]NAME>`. */
export function ifDefine(args: string[], vars: Variables, where: Where): boolean {
  const [not, name] = negated(oneArg('IfDefine', args, 'a parameter name defined by Define or -D', where));
  return vars.isDefined(name) !== not;
}

/** `<IfFile [!]path>`, a relative path being relative to the ServerRoot. */
export function ifFile(args: string[], serverRoot: string, where: Where): boolean {
  const [not, name] = negated(oneArg('IfFile', args, 'a file path', where));
  return existsSync(isAbsolute(name) ? name : resolve(serverRoot, name)) !== not;
}

const parts = (v: string): number[] => v.split('.').map((p) => Number(p));

/**
 * `<IfVersion [[!]operator] version>` answered for Apache {@link APACHE_VERSION}. Operators:
 * `=`/`==` (only the components given are compared), `<`, `<=`, `>`, `>=`, `~` or `/regex/`
 * (regular expression on the version string); a leading `!` negates.
 */
export function ifVersion(args: string[], where: Where): boolean {
  const fail = (why: string): never => {
    throw new ConfigError(where.file, where.line, `<IfVersion> ${why}: expected [[!]operator] version, e.g. <IfVersion >= 2.4>`);
  };
  if (args.length < 1 || args.length > 2) fail(`takes one or two arguments, got ${args.length}`);
  let op = args.length === 2 ? args[0]! : '=';
  let version = args.length === 2 ? args[1]! : args[0]!;
  let not = false;
  if (op.startsWith('!')) { not = true; op = op.slice(1) || '='; }
  if (version.length > 1 && version.startsWith('/') && version.endsWith('/')) {
    if (op !== '=' && op !== '==' && op !== '~') fail(`operator ${op} cannot take a /regex/`);
    op = '~';
    version = version.slice(1, -1);
  }
  let result: boolean;
  if (op === '~') {
    const re = apacheRegex(version);
    if ('error' in re) return fail(`bad regular expression '${version}' (${re.error})`);
    result = new RegExp(re.source, re.flags).test(APACHE_VERSION);
  } else {
    if (!/^\d+(\.\d+){0,2}$/.test(version)) fail(`bad version '${version}'`);
    const want = parts(version);
    const have = parts(APACHE_VERSION);
    let cmp = 0;
    for (let i = 0; i < 3 && cmp === 0; i++) {
      if (op === '=' || op === '==') { if (i >= want.length) break; }
      cmp = (have[i] ?? 0) - (want[i] ?? 0);
    }
    switch (op) {
      case '=': case '==': result = cmp === 0; break;
      case '<': result = cmp < 0; break;
      case '<=': result = cmp <= 0; break;
      case '>': result = cmp > 0; break;
      case '>=': result = cmp >= 0; break;
      default: return fail(`unknown operator '${op}'`);
    }
  }
  return result !== not;
}
