/**
 * `.htaccess` files: pyhost reads none, so where a `<Directory>`'s AllowOverride (AuthConfig,
 * Limit, All) or AllowOverrideList lets one restrict access and one exists, the restriction
 * would be lost. {@link htaccessRestrictions} finds them at start; {@link htaccessIn} is the
 * request-time check for files created later.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OverrideScope, ServerAccess, UnenforcedRestriction } from './access-plan.js';
import { directoryMatches } from './match.js';
import type { ServerPlan } from './plan.js';

/** Directories visited at most when looking below a static alias or a script directory. */
const MAX_DIRECTORIES = 20_000;

/** The AllowOverride / AllowOverrideList scope that lets `.htaccess` files in `dir` restrict access, if any. */
export function restrictingOverride(overrides: readonly OverrideScope[], dir: string): OverrideScope | undefined {
  let plain: OverrideScope | undefined;
  let list: OverrideScope | undefined;
  const probe = `${dir === '/' ? '' : dir}/.htaccess`;
  for (const o of overrides) {
    if (!directoryMatches(o.directory, probe)) continue;
    if (o.list) list = o;
    else plain = o;
  }
  if (plain?.restricts) return plain;
  return list?.restricts ? list : undefined;
}

/** `dir` and its ancestors, root first. */
export function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    out.unshift(d);
    if (d === '/') return out;
  }
}

/** The access files present in `dir` where an AllowOverride lets them restrict access. */
export function htaccessIn(access: ServerAccess, dir: string): { file: string; scope: OverrideScope }[] {
  const scope = restrictingOverride(access.overrides, dir);
  if (!scope) return [];
  return access.accessFileNames.map((n) => path.join(dir, n)).filter((f) => fs.existsSync(f)).map((file) => ({ file, scope }));
}

/** Where a server serves files from: script directories (walked below when they vary) and alias targets. */
function roots(server: ServerPlan): { dir: string; below: boolean }[] {
  const out: { dir: string; below: boolean }[] = [];
  for (const m of server.mounts) {
    const fixed = m.script.includes('$') ? m.script.slice(0, m.script.indexOf('$')) : m.script;
    const variable = fixed !== m.script || m.script.endsWith('/');
    out.push({ dir: variable ? fixed.slice(0, fixed.lastIndexOf('/') + 1) || '/' : path.dirname(m.script), below: variable });
  }
  for (const a of server.aliases) {
    const fixed = a.path.includes('$') ? a.path.slice(0, a.path.indexOf('$')) : a.path;
    let isDir = false;
    try { isDir = fs.statSync(fixed).isDirectory(); } catch { isDir = fixed.endsWith('/'); }
    out.push({ dir: isDir ? fixed : path.dirname(fixed), below: isDir || fixed !== a.path });
  }
  return out;
}

/**
 * Every `.htaccess` file (AccessFileName) that Apache would read and that may restrict access,
 * in the directories the servers serve from and their ancestors: each is an unenforced
 * restriction. A tree too large to search is one too.
 */
export function htaccessRestrictions(servers: readonly ServerPlan[]): UnenforcedRestriction[] {
  const out: UnenforcedRestriction[] = [];
  const seen = new Set<string>();
  for (const server of servers) {
    const access = server.access;
    if (!access.overrides.some((o) => o.restricts)) continue;
    let budget = MAX_DIRECTORIES;
    const check = (dir: string): void => {
      const key = `${dir}\0${access.accessFileNames.join('\0')}`;
      if (seen.has(key)) return;
      seen.add(key);
      for (const { file, scope } of htaccessIn(access, dir)) {
        out.push({
          directive: path.basename(file), file, line: 1,
          reason: `${scope.text} (${scope.file}:${scope.line}) lets this file restrict access in ${dir}; pyhost reads no .htaccess files ` +
            '(move its rules into the <Directory> section, or set AllowOverride None)',
        });
      }
    };
    for (const root of roots(server)) {
      for (const d of ancestors(root.dir)) check(d);
      if (!root.below) continue;
      const queue = [path.resolve(root.dir)];
      while (queue.length) {
        const dir = queue.shift()!;
        if (--budget < 0) {
          const scope = restrictingOverride(access.overrides, dir) ?? access.overrides.find((o) => o.restricts)!;
          out.push({
            directive: scope.text.split(' ')[0]!, file: scope.file, line: scope.line,
            reason: `${scope.text} lets .htaccess files restrict access, and ${root.dir} holds more than ${MAX_DIRECTORIES} directories to search for them`,
          });
          break;
        }
        check(dir);
        let entries: fs.Dirent[] = [];
        try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { /* unreadable: Apache could not read it either */ }
        for (const e of entries) if (e.isDirectory()) queue.push(path.join(dir, e.name));
      }
    }
  }
  return out;
}
