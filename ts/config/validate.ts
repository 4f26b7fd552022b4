/**
 * Cross-directive checks mod_wsgi makes (some at request time; pyhost makes them all before
 * serving): every process group named must be a defined daemon group, and a daemon group defined
 * inside a virtual host may only be used by virtual hosts with the same ServerName.
 */
import { ConfigError } from '../errors.js';
import type { Collected, RawServer } from './collect.js';
import { isDynamicGroup } from './groups.js';
import type { DaemonGroupPlan, Mount, SettingValue } from './plan.js';

/** A daemon group with the server it was defined in. */
export interface PlacedGroup {
  readonly group: DaemonGroupPlan;
  readonly server: RawServer;
}

/** The mounts one server serves. */
export interface ServedMounts {
  readonly server: RawServer;
  readonly mounts: readonly Mount[];
}

const literal = (name: string): boolean => name !== '' && !isDynamicGroup(name);

/** Every process group value written anywhere, with its location. */
function allProcessGroups(c: Collected): SettingValue<string>[] {
  const out: SettingValue<string>[] = [];
  for (const server of [c.main, ...c.vhosts]) {
    if (server.settings.processGroup) out.push(server.settings.processGroup);
    for (const s of server.sections) if (s.settings.processGroup) out.push(s.settings.processGroup);
    for (const m of server.mounts) {
      if (m.options.processGroup !== undefined) out.push({ value: m.options.processGroup, file: m.file, line: m.line });
    }
  }
  for (const { script } of c.imports) out.push({ value: script.processGroup, file: script.file, line: script.line });
  return out;
}

/**
 * Checks process group references.
 *
 * @param names the effective ServerName of every server.
 * @throws ConfigError at the line naming an undefined or inaccessible daemon group.
 */
export function validateGroups(c: Collected, groups: readonly PlacedGroup[], served: readonly ServedMounts[], names: ReadonlyMap<RawServer, string>): void {
  const byName = new Map(groups.map((g) => [g.group.name, g]));
  const defined = groups.length ? groups.map((g) => g.group.name).join(', ') : 'none';
  for (const v of allProcessGroups(c)) {
    if (literal(v.value) && !byName.has(v.value)) {
      throw new ConfigError(v.file, v.line,
        `No WSGI daemon process called '${v.value}' has been configured: expected a WSGIDaemonProcess ${v.value} directive (defined: ${defined})`);
    }
  }
  const check = (name: string, user: RawServer, where: SettingValue<string>, what: string): void => {
    const placed = byName.get(name);
    if (!placed || placed.server.kind === 'main' || placed.server === user) return;
    const owner = names.get(placed.server)!;
    if (owner === names.get(user)) return;
    throw new ConfigError(where.file, where.line,
      `Daemon process called '${name}' cannot be accessed by ${what}: it is defined in ${placed.server.label} ${owner} ` +
      `(${placed.group.file}:${placed.group.line}), so only virtual hosts with ServerName ${owner} may use it`);
  };
  for (const { server, mounts } of served) {
    for (const mount of mounts) {
      for (const layer of mount.layers) {
        const pg = layer.settings.processGroup;
        if (pg && literal(pg.value)) {
          check(pg.value, server, pg, `${mount.directive} ${mount.url} (${mount.file}:${mount.line}) in ${server.label} ${names.get(server)}`);
        }
      }
    }
  }
  for (const { script, server } of c.imports) {
    if (literal(script.processGroup)) {
      check(script.processGroup, server, { value: script.processGroup, file: script.file, line: script.line }, `WSGIImportScript in ${server.label} ${names.get(server)}`);
    }
  }
}
