/**
 * Apache's startup warning AH00671 for `Alias` lines that an earlier one shadows, applied to
 * static aliases and, the same way, to WSGIScriptAlias mounts (mod_wsgi also takes the first match).
 */
import type { RawAlias, RawMount } from './aliases.js';
import type { RawServer } from './collect.js';
import { aliasPrefixLength } from './match.js';
import type { ConfigWarning } from './plan.js';

type Entry = RawMount | RawAlias;

function shadowedBy(later: Entry, earlier: Entry): boolean {
  if (later.regex) return false;
  if (earlier.regex) return new RegExp(earlier.regex.source, earlier.regex.flags).test(later.url);
  return aliasPrefixLength(later.url, earlier.url) > 0;
}

function check(entries: readonly Entry[], out: ConfigWarning[]): void {
  entries.forEach((later, i) => {
    const earlier = entries.slice(0, i).find((e) => shadowedBy(later, e));
    if (!earlier) return;
    out.push({ file: later.file, line: later.line,
      message: `The ${later.directive} directive will probably never match because it overlaps an earlier ${earlier.directive} ` +
        `(${earlier.url} at ${earlier.file}:${earlier.line}): list more specific URLs first` });
  });
}

/** Warnings for each server's mounts and static aliases that an earlier one hides. */
export function overlapWarnings(servers: readonly RawServer[]): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  for (const s of servers) {
    check(s.mounts, out);
    check(s.aliases, out);
  }
  return out;
}
