/**
 * {@link loadConfig}: an Apache/mod_wsgi configuration file to a {@link SitePlan}.
 */
import { hostname } from 'node:os';
import { ConfigError } from '../errors.js';
import { resolve } from 'node:path';
import type { RawAlias, RawMount } from './aliases.js';
import { type Collected, type RawServer, collect } from './collect.js';
import { finishDaemonGroup } from './daemon.js';
import { formatHostPort } from './hosts.js';
import type {
  ConfigWarning, DaemonScope, ImportScript, Listener, Mount, ServerPlan, SitePlan, StaticAlias, VirtualHostAddress, VirtualHostPlan,
} from './plan.js';
import { overlapWarnings } from './overlaps.js';
import { serverAccess } from './access-layers.js';
import type { HookScript, UnenforcedRestriction } from './access-plan.js';
import { htaccessRestrictions } from './htaccess.js';
import { readConfig } from './reader.js';
import { buildLayers, mountSettings } from './resolve.js';
import { type PlacedGroup, type ServedMounts, validateGroups } from './validate.js';

/** Options of {@link loadConfig}. */
export interface LoadOptions {
  /** Like `httpd -D NAME` (for `<IfDefine>`); `NAME=value` also defines `${NAME}`. */
  readonly defines?: readonly string[];
  /** The environment `${VAR}` falls back to after Defines (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Apache's default `Timeout`. */
const DEFAULT_TIMEOUT = 60;

function serverNames(c: Collected, warnings: ConfigWarning[]): Map<RawServer, { name: string; from: ServerPlan['serverNameFrom'] }> {
  const names = new Map<RawServer, { name: string; from: ServerPlan['serverNameFrom'] }>();
  const main = c.main.serverName
    ? { name: c.main.serverName.host, from: 'ServerName' as const }
    : { name: hostname(), from: 'system' as const };
  if (!c.main.serverName) {
    warnings.push({ file: c.main.file, line: 1,
      message: `no server-level ServerName: using the system host name '${main.name}' (Apache: AH00558 could not reliably determine the server's fully qualified domain name)` });
  }
  names.set(c.main, main);
  for (const v of c.vhosts) {
    names.set(v, v.serverName ? { name: v.serverName.host, from: 'ServerName' } : { name: main.name, from: main.from === 'system' ? 'system' : 'main server' });
  }
  return names;
}

function listeners(c: Collected, warnings: ConfigWarning[]): Listener[] {
  const out = [...c.listeners];
  for (const v of c.vhosts) {
    for (const a of v.addresses) {
      if (a.port === '*' || out.some((l) => l.port === a.port)) continue;
      out.push({ address: a.address, port: a.port, from: 'VirtualHost', file: v.file, line: v.line });
      warnings.push({ file: v.file, line: v.line,
        message: `${v.label} names port ${a.port}, which no Listen directive opens: Apache would never serve it; pyhost listens on ${formatHostPort(a.address, a.port)}` });
    }
  }
  if (out.length === 0) {
    warnings.push({ file: c.main.file, line: 1, message: 'no Listen directive: the configuration names no address to listen on (Apache: no listening sockets available)' });
  }
  return out;
}

function vhostAddresses(c: Collected): Map<RawServer, VirtualHostAddress[]> {
  const seen = new Set<string>();
  const out = new Map<RawServer, VirtualHostAddress[]>();
  for (const v of c.vhosts) {
    out.set(v, v.addresses.map((a) => {
      const key = formatHostPort(a.address, a.port);
      const isDefault = !seen.has(key);
      seen.add(key);
      return { address: a.address, port: a.port, isDefault };
    }));
  }
  return out;
}

function makeMount(raw: RawMount, server: RawServer, main: RawServer, inherited: boolean): Mount {
  const layers = buildLayers(raw, server, main);
  const { settings, origins } = mountSettings(raw, layers);
  return { ...raw, settings, origins, layers, variesByUrl: layers.some((l) => !l.always), inherited };
}

const makeAlias = (raw: RawAlias, inherited: boolean): StaticAlias => ({ ...raw, inherited });

function importScripts(c: Collected, served: readonly ServedMounts[]): ImportScript[] {
  const out = c.imports.map((i) => i.script);
  const seen = new Set<string>();
  for (const { mounts } of served) {
    for (const m of mounts) {
      const key = `${m.file}:${m.line}`;
      if (!m.preload || seen.has(key)) continue;
      seen.add(key);
      out.push({ script: m.script, processGroup: m.options.processGroup!, applicationGroup: m.options.applicationGroup!, file: m.file, line: m.line });
    }
  }
  return out;
}

/**
 * Reads an Apache configuration file with mod_wsgi directives (and every file it includes) and
 * returns the site it describes, with each mount's settings resolved by Apache's scope rules,
 * daemon groups with mod_wsgi's defaults, warnings for what pyhost accepts but does not do, and
 * the Apache directives it ignored.
 *
 * @param path the main configuration file; the ServerRoot defaults to its directory.
 * @throws ConfigError (`file:line: message`) for the first error found.
 */
export function loadConfig(path: string, opts: LoadOptions = {}): SitePlan {
  const file = resolve(path);
  const read = readConfig(file, opts);
  const c = collect(read.nodes, file, read.serverRoot);
  const warnings: ConfigWarning[] = [...c.warnings, ...overlapWarnings([c.main, ...c.vhosts])];
  const names = serverNames(c, warnings);
  const timeout = c.main.timeout ?? DEFAULT_TIMEOUT;

  const groups: PlacedGroup[] = c.daemons.map(({ draft, server }) => {
    const scope: DaemonScope = server.kind === 'main' ? { kind: 'server' }
      : { kind: 'virtualhost', serverName: names.get(server)!.name, label: server.label, file: server.file, line: server.line };
    return { group: finishDaemonGroup(draft, scope, c.pythonHome, server.timeout ?? timeout), server };
  });

  const served: ServedMounts[] = [c.main, ...c.vhosts].map((server) => ({
    server,
    mounts: [
      ...server.mounts.map((m) => makeMount(m, server, c.main, false)),
      ...(server === c.main ? [] : c.main.mounts.map((m) => makeMount(m, server, c.main, true))),
    ],
  }));
  validateGroups(c, groups, served, new Map([...names].map(([s, n]) => [s, n.name])));

  if (c.restrictEmbedded) {
    for (const { server, mounts } of served) {
      for (const m of mounts) {
        if (m.settings.processGroup === '') {
          // mod_wsgi answers such requests with 500; pyhost refuses the configuration instead.
          throw new ConfigError(m.file, m.line,
            `${m.directive} ${m.url} runs in embedded mode (no process group) but WSGIRestrictEmbedded is On: give it a process-group= or a WSGIProcessGroup (${server.label})`);
        }
      }
    }
  }

  checkHooks(c, groups);
  const addresses = vhostAddresses(c);
  const serverPlan = (server: RawServer, i: number): ServerPlan => {
    const n = names.get(server)!;
    return {
      file: server.file, line: server.line, serverName: n.name, serverNameFrom: n.from,
      ...(server.serverName?.port !== undefined ? { serverNamePort: server.serverName.port } : {}),
      serverAliases: server.serverAliases,
      mounts: served[i]!.mounts,
      access: serverAccess(server, c.main),
      aliases: [...server.aliases.map((a) => makeAlias(a, false)), ...(server === c.main ? [] : c.main.aliases.map((a) => makeAlias(a, true)))],
    };
  };
  const allListeners = listeners(c, warnings);
  const mainPort = c.main.serverName?.port ?? allListeners[0]?.port;
  const virtualHosts: VirtualHostPlan[] = c.vhosts.map((v, i) => {
    const addrs = addresses.get(v)!;
    return { ...serverPlan(v, i + 1), address: addrs[0]!.address, port: addrs[0]!.port, isDefault: addrs[0]!.isDefault, addresses: addrs };
  });

  const mainServer = { ...serverPlan(c.main, 0), ...(mainPort !== undefined ? { port: mainPort } : {}) };
  const unenforced: UnenforcedRestriction[] = [...read.skippedAccess, ...c.access.unenforced, ...htaccessRestrictions([mainServer, ...virtualHosts])];
  return {
    file, files: read.files, serverRoot: read.serverRoot, listeners: allListeners,
    mainServer,
    virtualHosts,
    daemonGroups: groups.map((g) => g.group),
    importScripts: importScripts(c, served),
    restrictEmbedded: c.restrictEmbedded,
    interpreter: c.interpreter,
    perInterpreterGil: c.perInterpreterGil,
    ...(c.pythonHome !== undefined ? { pythonHome: c.pythonHome } : {}),
    pythonPath: c.pythonPath,
    timeout,
    warnings,
    ignored: c.ignored,
    unenforced,
  };
}

/**
 * Auth hooks run in the serving process's Python unless `process-group=` names a daemon group:
 * that group must exist, and embedded Python must be on for the others.
 */
function checkHooks(c: Collected, groups: readonly PlacedGroup[]): void {
  for (const server of [c.main, ...c.vhosts]) {
    for (const s of server.sections) {
      const a = s.access;
      for (const hook of [a?.accessScript, a?.authUserScript, a?.authGroupScript].filter((h): h is HookScript => !!h)) {
        if (hook.processGroup !== '' && !groups.some((g) => g.group.name === hook.processGroup)) {
          throw new ConfigError(hook.file, hook.line, `No WSGI daemon process called '${hook.processGroup}' has been configured: ` +
            `expected a WSGIDaemonProcess ${hook.processGroup} directive for this auth script's process-group=`);
        }
        if (hook.processGroup === '' && c.restrictEmbedded) {
          throw new ConfigError(hook.file, hook.line, 'this auth script runs in the serving process (as mod_wsgi runs auth scripts), ' +
            'but WSGIRestrictEmbedded On turns embedded Python off: add process-group=NAME to run it in a daemon process group');
        }
      }
    }
  }
}
