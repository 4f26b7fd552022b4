/**
 * AuthUserFile (htpasswd) and AuthGroupFile reads. Apache reads them on every request; pyhost
 * keeps the parsed file until its size or modification time changes (one stat per request), so
 * an edit takes effect at the next request, as in Apache.
 */
import fs from 'node:fs/promises';

interface Cached<T> {
  mtimeMs: number;
  size: number;
  value: T;
}

const cache = new Map<string, Cached<unknown>>();

async function load<T>(file: string, parse: (text: string) => T): Promise<T> {
  const st = await fs.stat(file);
  const hit = cache.get(file) as Cached<T> | undefined;
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.value;
  const value = parse(await fs.readFile(file, 'latin1'));
  cache.set(file, { mtimeMs: st.mtimeMs, size: st.size, value });
  return value;
}

/** Lines as Apache's ap_cfg_getline gives them: trimmed, `\` continuations joined, comments and blanks dropped. */
function lines(text: string): string[] {
  const out: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    let line = raw.replace(/\r$/, '');
    if (line.endsWith('\\')) { pending += line.slice(0, -1); continue; }
    line = (pending + line).trim();
    pending = '';
    if (line === '' || line.startsWith('#')) continue;
    out.push(line);
  }
  return out;
}

/** htpasswd `user:hash[:...]`: the first line naming the user wins (mod_authn_file). */
function parsePasswords(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const line of lines(text)) {
    const colon = line.indexOf(':');
    const user = colon < 0 ? line : line.slice(0, colon);
    if (users.has(user)) continue;
    users.set(user, colon < 0 ? '' : line.slice(colon + 1).split(':')[0]!);
  }
  return users;
}

/** `group: user user ...` lines: each user's groups (mod_authz_groupfile). */
function parseGroups(text: string): Map<string, Set<string>> {
  const byUser = new Map<string, Set<string>>();
  for (const line of lines(text)) {
    const colon = line.indexOf(':');
    const group = (colon < 0 ? line : line.slice(0, colon)).trimEnd();
    for (const user of (colon < 0 ? '' : line.slice(colon + 1)).split(/\s+/).filter(Boolean)) {
      let set = byUser.get(user);
      if (!set) byUser.set(user, (set = new Set()));
      set.add(group);
    }
  }
  return byUser;
}

/** The hash stored for `user`, `undefined` when the file does not name the user. Rejects when the file cannot be read. */
export async function passwordHash(file: string, user: string): Promise<string | undefined> {
  return (await load(file, parsePasswords)).get(user);
}

/** Every user of an htpasswd file with its hash (for start-up checks). */
export async function passwordEntries(file: string): Promise<ReadonlyMap<string, string>> {
  return load(file, parsePasswords);
}

/** The groups the group file puts `user` in. Rejects when the file cannot be read. */
export async function groupsOf(file: string, user: string): Promise<ReadonlySet<string>> {
  return (await load(file, parseGroups)).get(user) ?? new Set();
}
