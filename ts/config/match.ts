/**
 * How `<Location>`, `<Directory>` and `<Files>` sections (and their `...Match` forms) match a
 * request, following Apache 2.4's `ap_location_walk`, `ap_directory_walk` and `ap_file_walk`.
 */
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Where } from './lexer.js';
import { apacheRegex, hasWildcard, wildcardToRegExp } from './patterns.js';
import type { Matcher } from './plan.js';

const mergeSlashes = (s: string): string => s.replace(/\/{2,}/g, '/');

/**
 * The matcher of a section's arguments: `<Location /x>`, `<Location ~ "re">`,
 * `<LocationMatch "re">` (likewise Directory and Files). Directory paths are made absolute
 * against the ServerRoot and lose their trailing slash.
 *
 * @param section the section name as written, for messages.
 * @throws ConfigError for a missing argument or a regular expression that does not compile.
 */
export function sectionMatcher(kind: 'directory' | 'location' | 'files', section: string, args: string[], isMatch: boolean, serverRoot: string, where: Where): Matcher {
  const fail = (msg: string): never => { throw new ConfigError(where.file, where.line, msg); };
  let regex = isMatch;
  let arg: string | undefined = args[0];
  if (!isMatch && args[0] === '~') { regex = true; arg = args[1]; if (args.length > 2) arg = undefined; }
  else if (args.length > 1) arg = undefined;
  if (arg === undefined || arg === '') {
    return fail(args.length === 0 ? `<${section}> directive requires additional arguments`
      : `<${section}> takes one argument${isMatch ? ', a regular expression' : ' (or ~ and a regular expression)'}, got ${args.length}`);
  }
  if (regex) {
    const re = apacheRegex(arg);
    if ('error' in re) return fail(`Regex could not be compiled: <${section} ${args.join(' ')}>: ${re.error}`);
    return { kind: 'regex', source: re.source, flags: re.flags };
  }
  let path = arg;
  if (kind === 'directory') {
    path = isAbsolute(path) ? path : resolve(serverRoot, path);
    path = mergeSlashes(path);
    if (path.length > 1) path = path.replace(/\/+$/, '');
  } else if (kind === 'location') {
    path = mergeSlashes(path);
  }
  return hasWildcard(path) ? { kind: 'wildcard', pattern: path } : { kind: 'path', path };
}

const toRegExp = (m: { source: string; flags: string }): RegExp => new RegExp(m.source, m.flags);

/** Whether a `<Location>`/`<LocationMatch>` matcher matches the request URL (path part). */
export function urlMatches(m: Matcher, url: string): boolean {
  const uri = mergeSlashes(url);
  switch (m.kind) {
    case 'regex': return toRegExp(m).test(url);
    case 'wildcard': return wildcardToRegExp(m.pattern, { pathname: true }).test(uri);
    case 'path': {
      const d = m.path;
      if (!uri.startsWith(d)) return false;
      return d.endsWith('/') || uri.length === d.length || uri[d.length] === '/';
    }
  }
}

/**
 * Whether a `<Directory>`/`<DirectoryMatch>` matcher applies to a script path: a path matches
 * files inside that directory (at any depth); a wildcard is compared with the script's ancestor
 * directory of the same depth; a regular expression is tested on the whole script path.
 */
export function directoryMatches(m: Matcher, script: string): boolean {
  switch (m.kind) {
    case 'regex': return toRegExp(m).test(script);
    case 'path': return m.path === '/' || script.startsWith(`${m.path}/`);
    case 'wildcard': {
      const depth = m.pattern.split('/').filter(Boolean).length;
      const dir = script.endsWith('/') ? script : dirname(script);
      const comps = dir.split('/').filter(Boolean);
      if (comps.length < depth) return false;
      return wildcardToRegExp(m.pattern, { pathname: true }).test(`/${comps.slice(0, depth).join('/')}`);
    }
  }
}

/** Whether a `<Files>`/`<FilesMatch>` matcher matches the script's file name. */
export function fileMatches(m: Matcher, script: string): boolean {
  const name = script.endsWith('/') ? '' : basename(script);
  switch (m.kind) {
    case 'regex': return toRegExp(m).test(name);
    case 'path': return name === m.path;
    case 'wildcard': return wildcardToRegExp(m.pattern).test(name);
  }
}

/** The fixed text every string a matcher matches starts with (`undefined`: unknown). */
export function literalPrefix(m: Matcher): string | undefined {
  switch (m.kind) {
    case 'path': return m.path;
    case 'wildcard': return m.pattern.slice(0, m.pattern.search(/[*?[]/));
    case 'regex': {
      if (!m.source.startsWith('^') || m.flags.includes('i') || m.source.includes('|')) return undefined;
      const run = /^\^([^\\.[\]()*+?{}|^$]*)(.?)/.exec(m.source)!;
      const quantified = run[2] !== '' && '*+?{'.includes(run[2]!);
      return quantified ? run[1]!.slice(0, -1) : run[1]!;
    }
  }
}

/** Whether two prefixes can be true of one string (one starts with the other). */
export function prefixesOverlap(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

/**
 * How many characters of `uri` a URL prefix of `Alias` / `WSGIScriptAlias` matches, 0 for no
 * match (mod_alias's `alias_matches`, which mod_wsgi copies): runs of `/` match runs of `/`, other
 * characters literally, and the prefix must end at a segment boundary of the URI.
 */
export function aliasPrefixLength(uri: string, prefix: string): number {
  let a = 0;
  let u = 0;
  while (a < prefix.length) {
    if (prefix[a] === '/') {
      if (uri[u] !== '/') return 0;
      while (prefix[a] === '/') a++;
      while (uri[u] === '/') u++;
    } else if (uri[u++] !== prefix[a++]) {
      return 0;
    }
  }
  if (prefix.length > 0 && prefix[prefix.length - 1] !== '/' && u < uri.length && uri[u] !== '/') return 0;
  return u;
}
