/**
 * The Python side of the auth hooks: a small WSGI application pyhost runs as an internal request
 * in the hook's process group and application group. It loads the hook script the way mod_wsgi
 * loads auth scripts (module `_mod_wsgi_<md5 of the path>`, reloaded when its modification time
 * changes, import failures not cached), calls allow_access / check_password / groups_for_user
 * with a cut-down environ (no wsgi.input), checks the answer as mod_wsgi does and replies with
 * JSON: `{"result": ...}` or `{"error": "message and traceback"}`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pythonSource } from '../python-sources.js';

/** The header carrying the call (JSON); the adaptor removes it from the environ. */
export const HOOK_HEADER = 'Pyhost-Auth-Hook';


/**
 * Writes the adaptor to a new world-readable directory (daemon processes may run as another
 * user) and returns its path; `remove()` deletes it.
 */
export function writeHookAdaptor(): { script: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-auth-hooks-'));
  fs.chmodSync(dir, 0o755);
  const script = path.join(dir, 'auth_hooks.py');
  fs.writeFileSync(script, pythonSource('auth_hooks'), { mode: 0o644 });
  return { script, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
