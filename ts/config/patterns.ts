/**
 * The two pattern languages of Apache configuration files: shell wildcards (`apr_fnmatch`, used by
 * `Include`, `<Directory>`, `<Files>`, `<Location>`) and regular expressions (PCRE, used by the
 * `...Match` directives and sections), translated to JavaScript.
 */

/** Whether `s` contains a wildcard character (`*`, `?` or `[`), as `apr_fnmatch_test`. */
export function hasWildcard(s: string): boolean {
  return /[*?[]/.test(s);
}

/** Options of {@link wildcardToRegExp}. */
export interface WildcardOptions {
  /** `*` and `?` do not match `/` (APR_FNM_PATHNAME). */
  readonly pathname?: boolean;
  /** A leading `.` must be matched by a literal `.` (APR_FNM_PERIOD). */
  readonly period?: boolean;
}

const escapeRe = (c: string): string => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/** Translates a shell wildcard to an anchored regular expression. */
export function wildcardToRegExp(pattern: string, opts: WildcardOptions = {}): RegExp {
  const any = opts.pathname ? '[^/]' : '.';
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += `${any}*`;
    else if (c === '?') re += any;
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) { re += '\\['; continue; }
      let body = pattern.slice(i + 1, close);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) { negate = true; body = body.slice(1); }
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = close;
    } else re += escapeRe(c);
  }
  if (opts.period && !pattern.startsWith('.')) re = `(?!\\.)${re}`;
  return new RegExp(`^${re}$`);
}

/** A regular expression as written in the configuration, ready for `new RegExp(source, flags)`. */
export interface RegexSpec {
  /** The JavaScript source (PCRE's leading `(?i)` moved into `flags`). */
  readonly source: string;
  readonly flags: string;
}

/**
 * Translates an Apache (PCRE) regular expression to a JavaScript one: a leading `(?i)` becomes
 * the `i` flag; everything else common to both dialects passes through.
 *
 * @returns the spec, or an error message saying why the expression does not compile.
 */
export function apacheRegex(pattern: string): RegexSpec | { error: string } {
  let source = pattern;
  let flags = '';
  const inline = /^\(\?([ims]+)\)/.exec(source);
  if (inline) {
    for (const f of inline[1]!) if (!flags.includes(f)) flags += f;
    source = source.slice(inline[0].length);
  }
  try {
    new RegExp(source, flags);
  } catch (e) {
    return { error: (e as Error).message };
  }
  return { source, flags };
}
