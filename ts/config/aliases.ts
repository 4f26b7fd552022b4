/**
 * The URL-mapping directives: WSGIScriptAlias / WSGIScriptAliasMatch (mod_wsgi's
 * `wsgi_add_script_alias`), WSGIImportScript, and mod_alias's Alias / AliasMatch.
 */
import { isAbsolute } from 'node:path';
import { ConfigError } from '../errors.js';
import type { DirectiveNode } from './ast.js';
import { nextWord, parseOptions } from './lexer.js';
import { apacheRegex } from './patterns.js';
import type { ImportScript, Mount, MountOptions, StaticAlias } from './plan.js';

/** A mount as written, before its settings are resolved. */
export type RawMount = Pick<Mount, 'directive' | 'url' | 'regex' | 'script' | 'options' | 'preload' | 'file' | 'line'>;

/** A static alias as written. */
export type RawAlias = Omit<StaticAlias, 'inherited'>;

/** Makes a relative path absolute against the ServerRoot, keeping a trailing slash. */
export function absolutize(path: string, serverRoot: string): string {
  if (isAbsolute(path)) return path;
  return `${serverRoot.replace(/\/+$/, '')}/${path.replace(/^\.\//, '')}`;
}

const isDynamic = (v: string): boolean => v.includes('%{');

/**
 * Parses `WSGIScriptAlias url path [options]` or `WSGIScriptAliasMatch regex path [options]`.
 *
 * @throws ConfigError with mod_wsgi's messages for missing arguments, bad options and regexes.
 */
export function parseScriptAlias(node: DirectiveNode, serverRoot: string): RawMount {
  const where = { file: node.file, line: node.line };
  const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
  const isMatch = node.key === 'wsgiscriptaliasmatch';
  const directive = isMatch ? 'WSGIScriptAliasMatch' : 'WSGIScriptAlias';
  const url = nextWord(node.raw, 0, where);
  const path = url && nextWord(node.raw, url.next, where);
  if (!url || !path || url.word === '' || path.word === '') {
    fail(`${directive} requires at least two arguments: ${isMatch ? 'a URL regular expression' : 'a URL path'} and a WSGI script file path`);
  }
  const options: { -readonly [K in keyof MountOptions]: MountOptions[K] } = {};
  for (const { name, value } of parseOptions(node.raw.slice(path!.next), where, 'Invalid option to WSGI script alias definition.')) {
    if (name === 'application-group') {
      if (value === '') fail('Invalid name for WSGI application group: expected application-group=NAME');
      options.applicationGroup = value;
    } else if (name === 'process-group') {
      if (value === '') fail('Invalid name for WSGI process group: expected process-group=NAME');
      options.processGroup = value === '%{GLOBAL}' ? '' : value;
    } else if (name === 'callable-object') {
      if (value === '') fail('Invalid name for WSGI callable object: expected callable-object=NAME');
      options.callableObject = value;
    } else if (name === 'pass-authorization') {
      if (!/^(on|off)$/i.test(value)) fail(`Invalid value for authorization flag: expected pass-authorization=On or Off, got '${value}'`);
      options.passAuthorization = value.toLowerCase() === 'on';
    } else {
      fail(`Invalid option to WSGI script alias definition: unknown option '${name}' (expected process-group, application-group, callable-object or pass-authorization).`);
    }
  }
  let regex: RawMount['regex'];
  if (isMatch) {
    const re = apacheRegex(url!.word);
    if ('error' in re) fail(`Regular expression could not be compiled: '${url!.word}': ${re.error}`);
    regex = re as { source: string; flags: string };
  }
  const script = absolutize(path!.word, serverRoot);
  const app = options.applicationGroup === '%{GLOBAL}' ? '' : options.applicationGroup;
  const preload = options.processGroup !== undefined && app !== undefined && !isDynamic(options.processGroup) &&
    !isDynamic(app) && (!isMatch || !script.includes('$'));
  return { directive, url: url!.word, ...(regex ? { regex } : {}), script, options, preload, file: node.file, line: node.line };
}

/**
 * Parses `WSGIImportScript path process-group=X application-group=Y` (both options required).
 */
export function parseImportScript(node: DirectiveNode, serverRoot: string): ImportScript {
  const where = { file: node.file, line: node.line };
  const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
  const first = nextWord(node.raw, 0, where);
  if (!first || first.word === '') return fail('Location of import script not supplied: expected WSGIImportScript path process-group=NAME application-group=NAME');
  let processGroup: string | undefined;
  let applicationGroup: string | undefined;
  for (const { name, value } of parseOptions(node.raw.slice(first.next), where, 'Invalid option to WSGI import script definition.')) {
    if (value === '' && (name === 'process-group' || name === 'application-group')) fail(`Invalid name for WSGI ${name.replace('-', ' ')}.`);
    if (name === 'process-group') processGroup = value === '%{GLOBAL}' ? '' : value;
    else if (name === 'application-group') applicationGroup = value;
    else fail(`Invalid option to WSGI import script definition: unknown option '${name}' (expected process-group and application-group).`);
  }
  if (applicationGroup === undefined) fail('Name of WSGI application group required: add application-group=NAME (or %{GLOBAL})');
  if (processGroup === undefined) fail('Name of WSGI process group required: add process-group=NAME (or %{GLOBAL} for embedded)');
  return { script: absolutize(first.word, serverRoot), processGroup: processGroup!, applicationGroup: applicationGroup!, file: node.file, line: node.line };
}

/**
 * Parses `Alias url path` / `AliasMatch regex path`, or the one-argument `Alias path` inside a
 * `<Location url>` (then `locationUrl` is that URL).
 */
export function parseAlias(node: DirectiveNode, serverRoot: string, locationUrl?: string): RawAlias {
  const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
  const isMatch = node.key === 'aliasmatch';
  const directive = isMatch ? 'AliasMatch' : 'Alias';
  const want = locationUrl === undefined ? 2 : 1;
  if (node.args.length !== want) {
    fail(locationUrl === undefined
      ? `${directive} takes two arguments, ${isMatch ? 'a URL regular expression' : 'a fakename'} and a realname (file or directory), got ${node.args.length}`
      : `Alias inside <Location> takes one argument, the file or directory, got ${node.args.length}`);
  }
  const url = locationUrl ?? node.args[0]!;
  const path = absolutize(node.args[want - 1]!, serverRoot);
  let regex: RawAlias['regex'];
  if (isMatch) {
    const re = apacheRegex(url);
    if ('error' in re) fail(`Regular expression could not be compiled: '${url}': ${re.error}`);
    regex = re as { source: string; flags: string };
  }
  return { directive, url, ...(regex ? { regex } : {}), path, file: node.file, line: node.line };
}
