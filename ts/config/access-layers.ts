/**
 * Turns the access settings collected per section into each server's {@link ServerAccess}: the
 * sections in Apache's merge order with what they match, the server-level SetEnvIf rules, the
 * AllowOverride scopes and AccessFileName.
 */
import type { AccessLayer, OverrideScope, SectionAccess, ServerAccess } from './access-plan.js';
import type { RawSection, RawServer } from './collect.js';
import { chain, orderedSections } from './resolve.js';

/** A section's access settings without the empty parts. */
function finished(access: NonNullable<RawSection['access']>): SectionAccess {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(access)) {
    if (v === undefined || k === 'allowOverride') continue;
    out[k] = v;
  }
  return out as SectionAccess;
}

/** The access part of `server`'s plan (`main` is the main server, whose sections a virtual host inherits). */
export function serverAccess(server: RawServer, main: RawServer): ServerAccess {
  const layers: AccessLayer[] = [];
  const overrides: OverrideScope[] = [];
  for (const s of orderedSections(server, main)) {
    if (!s.access) continue;
    for (const o of s.access.allowOverride ?? []) {
      overrides.push({ directory: s.matcher, restricts: o.restricts, list: o.list, text: o.text, file: o.file, line: o.line });
    }
    const access = finished(s.access);
    if (Object.keys(access).length === 0) continue;
    const base = { label: s.label, file: s.file, line: s.line, access };
    if (s.kind === 'location') {
      layers.push({ ...base, scope: 'location', url: s.matcher });
      continue;
    }
    const { directories, files } = chain(s);
    layers.push({ ...base, scope: s.kind === 'files' ? 'files' : 'directory', directories, ...(files.length ? { files } : {}) });
  }
  const setEnv = server === main ? main.access.setEnv : [...main.access.setEnv, ...server.access.setEnv];
  const accessFileNames = server.access.accessFileNames ?? main.access.accessFileNames ?? ['.htaccess'];
  return { layers, setEnv, overrides, accessFileNames };
}

/** Whether any server of the site has access settings (else requests skip the access checks). */
export const hasAccessRules = (a: ServerAccess): boolean => a.layers.length > 0 || a.overrides.some((o) => o.restricts);
