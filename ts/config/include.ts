/**
 * Which files an `Include` or `IncludeOptional` names, following Apache 2.4
 * (`ap_process_fnmatch_configs`): a path relative to the ServerRoot or absolute; wildcards in any
 * component; the matches of each directory level sorted by name; a directory includes every file
 * below it, sorted, recursively; `IncludeOptional` tolerates no match and a missing file.
 */
import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Where } from './lexer.js';
import { hasWildcard, wildcardToRegExp } from './patterns.js';

const MAX_DIR_DEPTH = 128;

const isDirectory = (p: string): boolean => {
  try { return statSync(p).isDirectory(); } catch { return false; }
};
const exists = (p: string): boolean => {
  try { statSync(p); return true; } catch { return false; }
};
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Lists the files an include pattern names, in the order Apache reads them.
 *
 * @param pattern the argument of the directive (variables already expanded).
 * @param serverRoot the directory relative patterns are resolved against.
 * @param optional `IncludeOptional`: no error when nothing matches or the file does not exist.
 * @throws ConfigError when a non-optional wildcard matches nothing or a directory cannot be read.
 *   (A missing non-wildcard file is reported by the reader when it opens it.)
 */
export function includeFiles(pattern: string, serverRoot: string, optional: boolean, where: Where): string[] {
  const directive = optional ? 'IncludeOptional' : 'Include';
  const path = isAbsolute(pattern) ? resolve(pattern) : resolve(serverRoot, pattern);
  const out: string[] = [];
  const fail = (msg: string): never => { throw new ConfigError(where.file, where.line, `${directive}: ${msg}`); };

  const plain = (p: string, depth: number): void => {
    if (isDirectory(p)) {
      if (depth > MAX_DIR_DEPTH) fail(`Directory '${p}' exceeds the maximum include directory nesting level of ${MAX_DIR_DEPTH}`);
      let names: string[] = [];
      try { names = readdirSync(p); } catch (e) { fail(`Could not open directory ${p}: ${(e as Error).message}`); }
      for (const name of names.sort(byName)) plain(join(p, name), depth + 1);
      return;
    }
    if (optional && !exists(p)) return;
    out.push(p);
  };

  const walk = (dir: string, rest: string[]): void => {
    const [head, ...tail] = rest;
    if (head === undefined) return plain(dir, 0);
    if (!hasWildcard(head)) return walk(join(dir, head), tail);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      if (optional && !exists(dir)) return;
      return fail(`Could not open directory ${dir}: ${(e as Error).message}`);
    }
    const re = wildcardToRegExp(head, { period: true });
    const matches = names.filter((n) => re.test(n) && (tail.length === 0 || isDirectory(join(dir, n)))).sort(byName);
    if (matches.length === 0 && !optional) {
      fail(`No matches for the wildcard '${head}' in '${dir}', failing (use IncludeOptional if that is intended)`);
    }
    for (const m of matches) walk(join(dir, m), tail);
  };

  if (!hasWildcard(path)) plain(path, 0);
  else walk('/', path.split('/').filter((c) => c !== ''));
  return out;
}
