/**
 * {@link formatPlan}: the resolved plan as text, in the spirit of `apachectl -S`.
 */
import { dirname, relative } from 'node:path';
import { applicationGroupName, isDynamicGroup } from './groups.js';
import { formatHostPort } from './hosts.js';
import { accessLines } from '../access/describe.js';
import type { DaemonGroupPlan, Mount, ServerPlan, SitePlan, VirtualHostPlan } from './plan.js';

const pad = (s: string, n: number): string => (s.length >= n ? `${s} ` : s + ' '.repeat(n - s.length));

/**
 * Formats a plan for `pyhost check-config`: listeners; virtual hosts by address (default ones
 * marked, as `apachectl -S` prints them); each server's mounts with script, process group,
 * application group (raw and resolved), callable object and Python; static aliases; daemon
 * groups; import scripts; warnings; ignored directives. Locations are `file:line`, relative to
 * the main file's directory when below it.
 */
export function formatPlan(plan: SitePlan): string {
  const base = dirname(plan.file);
  const path = (file: string): string => (file.startsWith(`${base}/`) ? relative(base, file) : file);
  const loc = (x: { file: string; line: number }): string => `${path(x.file)}:${x.line}`;
  const groups = new Map(plan.daemonGroups.map((g) => [g.name, g]));
  const out: string[] = [];

  out.push(`ServerRoot: "${plan.serverRoot}"`);
  out.push(`Config files: ${plan.files.map(path).join(', ')}`);
  out.push('Listeners:');
  if (plan.listeners.length === 0) out.push('  (none)');
  for (const l of plan.listeners) {
    const note = l.from === 'VirtualHost' ? ' (VirtualHost only, no Listen)' : l.protocol ? ` (${l.protocol})` : '';
    out.push(`  ${pad(formatHostPort(l.address, l.port), 22)}${loc(l)}${note}`);
  }

  out.push('VirtualHost configuration:');
  const byAddress = new Map<string, { v: VirtualHostPlan; isDefault: boolean }[]>();
  for (const v of plan.virtualHosts) {
    for (const a of v.addresses) {
      const key = formatHostPort(a.address, a.port);
      byAddress.set(key, [...(byAddress.get(key) ?? []), { v, isDefault: a.isDefault }]);
    }
  }
  if (byAddress.size === 0) out.push('  (none)');
  for (const [addr, hosts] of byAddress) {
    if (hosts.length === 1) {
      out.push(`${pad(addr, 22)} ${hosts[0]!.v.serverName} (${loc(hosts[0]!.v)})`);
      continue;
    }
    out.push(`${pad(addr, 22)} is a NameVirtualHost`);
    const port = addr.slice(addr.lastIndexOf(':') + 1);
    const first = hosts.find((h) => h.isDefault)!;
    out.push(`         default server ${first.v.serverName} (${loc(first.v)})`);
    for (const { v } of hosts) {
      out.push(`         port ${port} namevhost ${v.serverName} (${loc(v)})`);
      for (const alias of v.serverAliases) out.push(`                 alias ${alias}`);
    }
  }
  const main = plan.mainServer;
  out.push(`Main server: ${main.serverName}${main.port !== undefined ? ` (port ${main.port})` : ''} [ServerName from ${main.serverNameFrom}]`);

  const portOf = (s: ServerPlan, vport: number | '*' | undefined): number =>
    s.serverNamePort ?? (typeof vport === 'number' ? vport : main.port ?? 80);
  const servers: { title: string; s: ServerPlan; port: number }[] = [
    ...plan.virtualHosts.map((v) => ({
      title: `Virtual host ${v.serverName} on ${v.addresses.map((a) => formatHostPort(a.address, a.port)).join(' ')}${v.isDefault ? ' (default)' : ''} (${loc(v)})`,
      s: v as ServerPlan, port: portOf(v, v.port),
    })),
    { title: `Main server ${main.serverName}`, s: main, port: portOf(main, main.port) },
  ];
  for (const { title, s, port } of servers) {
    if (s === main && plan.virtualHosts.length > 0 && s.mounts.length === 0 && s.aliases.length === 0) continue;
    out.push(`${title}:`);
    if (s.mounts.length === 0 && s.aliases.length === 0) out.push('  (nothing mounted)');
    for (const m of s.mounts) {
      out.push(...mountLines(m, s, port, plan, groups, loc));
      out.push(...accessLines(s, m.regex ? (literalOf(m.url) ?? m.url) : m.url, m.script.includes('$') || m.script.endsWith('/') ? undefined : m.script, loc));
    }
    for (const a of s.aliases) {
      out.push(`  static ${a.url} -> ${a.path} (${a.directive}, ${loc(a)}${a.inherited ? ', inherited from main server' : ''})`);
      if (!a.regex) out.push(...accessLines(s, a.url, a.path.includes('$') ? undefined : a.path, loc));
    }
  }

  out.push('Daemon process groups:');
  if (plan.daemonGroups.length === 0) out.push('  (none)');
  for (const g of plan.daemonGroups) out.push(`  ${daemonLine(g, loc)}`);
  out.push(`Embedded mode: ${plan.restrictEmbedded ? 'disabled (WSGIRestrictEmbedded On)' : 'enabled'}` +
    `${plan.pythonHome ? `, python-home ${plan.pythonHome}` : ''}${plan.pythonPath.length ? `, python-path ${plan.pythonPath.join(':')}` : ''}`);
  const interp = [
    ...(plan.interpreter.optimize !== undefined ? [`optimize ${plan.interpreter.optimize}`] : []),
    ...Object.entries(plan.interpreter.environment).map(([k, v]) => `${k}=${v}`),
    ...(plan.perInterpreterGil ? ['own GIL per sub-interpreter (WSGIPerInterpreterGIL)'] : []),
  ];
  if (interp.length) out.push(`Python settings: ${interp.join(', ')}`);
  if (plan.importScripts.length) {
    out.push('Import scripts:');
    for (const i of plan.importScripts) {
      out.push(`  ${i.script} process-group=${i.processGroup || '%{GLOBAL}'} application-group=${i.applicationGroup} (${loc(i)})`);
    }
  }
  out.push('Warnings:');
  if (plan.warnings.length === 0) out.push('  (none)');
  for (const w of plan.warnings) out.push(`  ${loc(w)}: ${w.message}`);
  out.push('Access restrictions pyhost does not enforce:');
  if (plan.unenforced.length === 0) out.push('  (none)');
  for (const u of plan.unenforced) out.push(`  ${loc(u)}: ${u.directive}: ${u.reason}`);
  out.push('Ignored directives:');
  if (plan.ignored.length === 0) out.push('  (none)');
  for (const i of plan.ignored) out.push(`  ${i.name} (${loc(i)})`);
  return `${out.join('\n')}\n`;
}

function mountLines(m: Mount, s: ServerPlan, port: number, plan: SitePlan, groups: Map<string, DaemonGroupPlan>,
  loc: (x: { file: string; line: number }) => string): string[] {
  const st = m.settings;
  const lines = [`  ${m.regex ? 'URL pattern' : 'URL prefix'} ${m.url} -> ${m.script} (${m.directive}, ${loc(m)}${m.inherited ? ', inherited from main server' : ''})`];
  const pg = st.processGroup;
  const group = groups.get(pg);
  lines.push(`      process group:     ${pg === '' ? 'embedded' : isDynamicGroup(pg) ? `${pg} (per request)` : `${pg} (daemon)`}`);
  const raw = st.applicationGroup;
  let resolved: string;
  if (raw === '%{GLOBAL}') resolved = "'' (main interpreter)";
  else if (raw === '%{RESOURCE}' && m.regex) resolved = 'host|SCRIPT_NAME per request';
  else if (raw === '%{RESOURCE}' || raw === '%{SERVER}') {
    resolved = `'${applicationGroupName(raw, { serverName: s.serverName, port, scriptName: m.url.replace(/\/+$/, '') })}'`;
  } else if (raw === '%{HOST}') resolved = 'Host header per request';
  else if (raw.startsWith('%{ENV:')) resolved = 'from the environment per request';
  else resolved = '';
  lines.push(`      application group: ${raw}${resolved ? ` -> ${resolved}` : ''}`);
  lines.push(`      callable object:   ${st.callableObject}`);
  let python: string;
  if (pg === '') {
    python = plan.restrictEmbedded ? 'none: embedded mode disabled, requests fail with 500'
      : `embedded${plan.pythonHome ? `, venv ${plan.pythonHome}` : ', default'}`;
  } else if (group) {
    python = `${group.python ?? 'default'}${group.pythonHome ? `, venv ${group.pythonHome}` : ''}`;
  } else python = 'per process group';
  lines.push(`      python:            ${python}`);
  if (st.passAuthorization) lines.push('      pass authorization: on');
  if (!st.scriptReloading) lines.push('      script reloading:  off');
  if (st.chunkedRequest) lines.push('      chunked requests:  on');
  if (st.mapHeadToGet === 'On') lines.push('      map HEAD to GET:   on');
  if (m.variesByUrl) {
    const parts = m.layers.filter((l) => !l.always).map((l) => `${l.label} (${loc(l)})`);
    lines.push(`      varies below this URL: ${parts.join(', ')}`);
  }
  return lines;
}

/** The fixed start of a `^...` regular expression, for showing what a pattern mount covers. */
function literalOf(source: string): string | undefined {
  const m = /^\^([^\\.[\]()*+?{}|^$]*)/.exec(source);
  return m ? m[1] : undefined;
}

function daemonLine(g: DaemonGroupPlan, loc: (x: { file: string; line: number }) => string): string {
  const where = g.definedIn.kind === 'server' ? 'server level' : `${g.definedIn.label} ${g.definedIn.serverName}`;
  const parts = [
    `processes=${g.processes}${g.processesExplicit ? '' : ' (default)'}`,
    `threads=${g.threads}`,
    `python=${g.python ?? 'default'}`,
    `python-home=${g.pythonHome ? `${g.pythonHome}${g.pythonHomeFrom === 'WSGIPythonHome' ? ' (WSGIPythonHome)' : ''}` : '(none)'}`,
    ...(g.pythonPath.length ? [`python-path=${g.pythonPath.join(':')}`] : []),
    `user=${g.user ?? '(server user)'}`,
    ...(g.group ? [`group=${g.group}`] : []),
    ...(g.home ? [`home=${g.home}`] : []),
  ];
  return `${g.name}: ${parts.join(' ')} defined in ${where} (${loc(g)})`;
}
