/**
 * What the access-control tests share: the extra Apache modules they need, users made with
 * Apache's own `htpasswd` (so every hash format is real), a group file, Basic credentials, and
 * one Apache + one pyhost serving the same included file.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startApache, type ApacheServer } from './apache.js';
import { freePorts, startPyhost, writeFile, type PyhostServer } from './config-serve.js';

/** Apache modules for access control (the helper loads authz_core, authz_host and setenvif itself). */
export const ACCESS_MODULES: Array<[string, string]> = [
  ['access_compat_module', 'mod_access_compat.so'], ['auth_basic_module', 'mod_auth_basic.so'],
  ['authn_core_module', 'mod_authn_core.so'], ['authn_file_module', 'mod_authn_file.so'],
  ['authz_user_module', 'mod_authz_user.so'], ['authz_groupfile_module', 'mod_authz_groupfile.so'],
];

/** Users and their passwords, with the htpasswd flag that hashes each (bcrypt, MD5, SHA-1, crypt). */
export const USERS: ReadonlyArray<{ user: string; password: string; flag: string }> = [
  { user: 'alice', password: 'secret', flag: '-B' },
  { user: 'bob', password: 'pw-bob', flag: '-m' },
  { user: 'carol', password: 'pw-carol', flag: '-s' },
  { user: 'dave', password: 'pw-dave', flag: '-d' },
];

/** Whether Apache's htpasswd is installed (apache2-utils). */
export function htpasswdAvailable(): boolean {
  try {
    execFileSync('htpasswd', ['-v'], { stdio: 'ignore' });
  } catch (e) {
    return (e as { status?: number }).status !== undefined && (e as { code?: string }).code !== 'ENOENT';
  }
  return true;
}

/** Writes an htpasswd file with {@link USERS} (made by `htpasswd -b`) and a group file; returns their paths. */
export function writeUserFiles(dir: string): { users: string; groups: string } {
  const users = path.join(dir, 'users.htpasswd');
  for (const [i, u] of USERS.entries()) {
    execFileSync('htpasswd', [...(i === 0 ? ['-c'] : []), '-b', u.flag, users, u.user, u.password], { stdio: 'ignore' });
  }
  fs.chmodSync(users, 0o644);
  const groups = writeFile(dir, 'groups', '# group: members\nadmins: alice bob\nstaff: carol dave\n');
  return { users, groups };
}

/** An `Authorization: Basic` header. */
export const basic = (user: string, password: string): [string, string] => ['Authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`];

/** One Apache and one pyhost serving `site` (wrapped with each one's Listen lines). */
export interface AccessPair {
  apache: ApacheServer;
  pyhost: PyhostServer;
  pyhostPort: number;
}

/**
 * Starts Apache (with {@link ACCESS_MODULES}) and pyhost on the same site text, in parallel.
 * `defines` go to both (`-D` / `--define`).
 */
export async function startPair(dir: string, name: string, site: string, defines: string[] = [], extraArgs: string[] = []): Promise<AccessPair> {
  const [port] = await freePorts(1);
  const wrapper = writeFile(dir, `pyhost-${name}.conf`, [`Listen 127.0.0.1:${port}`, 'ServerName 127.0.0.1', site].join('\n'));
  const [apache, pyhost] = await Promise.allSettled([
    startApache({ site, modules: ACCESS_MODULES, defines, startTimeoutMs: 60_000 }),
    startPyhost({ config: wrapper, ports: [port!], defines, extraArgs }),
  ]);
  if (apache.status === 'rejected' || pyhost.status === 'rejected') {
    if (apache.status === 'fulfilled') await apache.value.stop();
    if (pyhost.status === 'fulfilled') await pyhost.value.stop();
    throw (apache.status === 'rejected' ? apache.reason : (pyhost as PromiseRejectedResult).reason) as Error;
  }
  return { apache: apache.value, pyhost: pyhost.value, pyhostPort: port! };
}
