/**
 * Apache's scope rules for a mount's settings. mod_wsgi takes a value from, strongest first: the
 * WSGIScriptAlias options; the merged per-directory configuration (Apache merges `<Directory>`
 * sections shortest path first, then `<DirectoryMatch>`, then `<Files>`/`<FilesMatch>`, then
 * `<Location>`/`<LocationMatch>` in file order, the main server's sections before a virtual
 * host's); the virtual host's server-level value; the main server's; the default.
 */
import type { RawMount } from './aliases.js';
import { type RawSection, type RawServer, isEmpty } from './collect.js';
import { directoryMatches, fileMatches, literalPrefix, prefixesOverlap, urlMatches } from './match.js';
import {
  DEFAULT_SETTINGS, type Matcher, type Mount, type SettingName, type SettingsLayer, type WsgiSettings,
} from './plan.js';

type Fit = 'always' | 'maybe' | 'never';

const worst = (a: Fit, b: Fit): Fit => (a === 'never' || b === 'never' ? 'never' : a === 'maybe' || b === 'maybe' ? 'maybe' : 'always');

/** The matchers of a section and its enclosing sections. */
export function chain(s: RawSection): { directories: Matcher[]; files: Matcher[] } {
  const directories: Matcher[] = [];
  const files: Matcher[] = [];
  for (let p: RawSection | undefined = s; p; p = p.parent) (p.kind === 'files' ? files : directories).unshift(p.matcher);
  return { directories, files };
}

/** How directory/files matchers relate to a mount's script (which may be a template or a directory). */
function fitScript(directories: Matcher[], files: Matcher[], script: string): Fit {
  const variable = script.includes('$') || script.endsWith('/');
  if (!variable) return directories.every((m) => directoryMatches(m, script)) && files.every((m) => fileMatches(m, script)) ? 'always' : 'never';
  const fixed = script.includes('$') ? script.slice(0, script.indexOf('$')) : script;
  const base = fixed.slice(0, fixed.lastIndexOf('/') + 1);
  let fit: Fit = files.length > 0 ? 'maybe' : 'always';
  for (const m of directories) {
    if (m.kind !== 'path') fit = worst(fit, 'maybe');
    else if (m.path === '/' || base.startsWith(`${m.path}/`)) continue;
    else fit = worst(fit, `${m.path}/`.startsWith(base) ? 'maybe' : 'never');
  }
  return fit;
}

/** How a location matcher relates to the URLs a mount serves. */
function fitUrl(m: Matcher, mount: RawMount): Fit {
  if (!mount.regex) {
    if (m.kind === 'path') {
      if (urlMatches(m, mount.url)) return 'always';
      return urlMatches({ kind: 'path', path: mount.url }, m.path) ? 'maybe' : 'never';
    }
    const lit = literalPrefix(m);
    return lit !== undefined && !prefixesOverlap(lit, mount.url) ? 'never' : 'maybe';
  }
  const mountLit = literalPrefix({ kind: 'regex', ...mount.regex });
  const lit = literalPrefix(m);
  if (m.kind === 'path' && m.path === '/') return 'always';
  if (mountLit === undefined || lit === undefined) return 'maybe';
  if (m.kind === 'path' && mountLit.startsWith(m.path) && (m.path.endsWith('/') || mountLit[m.path.length] === '/')) return 'always';
  return prefixesOverlap(lit, mountLit) ? 'maybe' : 'never';
}

/** Apache sorts `<Directory>` sections by their number of slashes (with the trailing one). */
const count = (m: Matcher): number => {
  const p = m.kind === 'path' ? m.path : m.kind === 'wildcard' ? m.pattern : '';
  return p === '/' ? 1 : p.split('/').length;
};

/** The sections of a server in Apache's merge order (main server's first for a virtual host). */
export function orderedSections(server: RawServer, main: RawServer): RawSection[] {
  const all = server === main ? main.sections : [...main.sections, ...server.sections];
  const dirs = all.filter((s) => s.kind === 'directory');
  const plainDirs = dirs.filter((s) => s.matcher.kind !== 'regex')
    .map((s, i) => ({ s, i })).sort((a, b) => count(a.s.matcher) - count(b.s.matcher) || a.i - b.i).map((x) => x.s);
  const orderedDirs = [...plainDirs, ...dirs.filter((s) => s.matcher.kind === 'regex')];
  const topFiles = all.filter((s) => s.kind === 'files' && rootOf(s).kind === 'files');
  const nestedFiles = orderedDirs.flatMap((d) => all.filter((s) => s.kind === 'files' && rootOf(s) === d));
  return [...orderedDirs, ...topFiles, ...nestedFiles, ...all.filter((s) => s.kind === 'location')];
}

const rootOf = (s: RawSection): RawSection => (s.parent ? rootOf(s.parent) : s);

const vhostLabel = (server: RawServer): string => `${server.label}${server.serverName ? ` ${server.serverName.host}` : ''}`;

/** Every layer that may set a mount's settings when `server` serves it, weakest first. */
export function buildLayers(mount: RawMount, server: RawServer, main: RawServer): SettingsLayer[] {
  const layers: SettingsLayer[] = [];
  const add = (layer: SettingsLayer): void => { if (!isEmpty(layer.settings)) layers.push(layer); };
  add({ scope: 'server', label: 'server level', file: main.file, line: main.line, always: true, settings: main.settings });
  if (server !== main) add({ scope: 'virtualhost', label: vhostLabel(server), file: server.file, line: server.line, always: true, settings: server.settings });
  for (const s of orderedSections(server, main)) {
    if (isEmpty(s.settings)) continue;
    const base = { label: s.label, file: s.file, line: s.line, settings: s.settings };
    if (s.kind === 'location') {
      const fit = fitUrl(s.matcher, mount);
      if (fit !== 'never') add({ ...base, scope: 'location', url: s.matcher, always: fit === 'always' });
      continue;
    }
    const { directories, files } = chain(s);
    const fit = fitScript(directories, files, mount.script);
    if (fit === 'never') continue;
    add({ ...base, scope: s.kind === 'files' ? 'files' : 'directory', directories, ...(files.length ? { files } : {}), always: fit === 'always' });
  }
  const o = mount.options;
  const opt = (name: SettingName, value: WsgiSettings[SettingName] | undefined) =>
    value === undefined ? {} : { [name]: { value, file: mount.file, line: mount.line } };
  add({
    scope: 'alias', label: `${mount.directive} options`, file: mount.file, line: mount.line, always: true,
    settings: {
      ...opt('processGroup', o.processGroup), ...opt('applicationGroup', o.applicationGroup),
      ...opt('callableObject', o.callableObject), ...opt('passAuthorization', o.passAuthorization),
    },
  });
  return layers;
}

/** Effective settings and, for each, where it came from. */
export interface ResolvedSettings {
  readonly settings: WsgiSettings;
  readonly origins: { readonly [K in SettingName]: string };
}

function applies(layer: SettingsLayer, url: string | undefined, script: string | undefined): boolean {
  if (layer.always) return true;
  if (url === undefined || script === undefined) return false;
  if (layer.url && !urlMatches(layer.url, url)) return false;
  if (layer.directories && !layer.directories.every((m) => directoryMatches(m, script))) return false;
  return !layer.files || layer.files.every((m) => fileMatches(m, script));
}

function merge(layers: readonly SettingsLayer[], url: string | undefined, script: string | undefined): ResolvedSettings {
  const settings: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  const origins: Record<string, string> = {};
  for (const k of Object.keys(DEFAULT_SETTINGS)) origins[k] = 'default';
  for (const layer of layers) {
    if (!applies(layer, url, script)) continue;
    for (const [k, v] of Object.entries(layer.settings)) {
      settings[k] = v.value;
      origins[k] = `${layer.label} at ${v.file}:${v.line}`;
    }
  }
  return { settings: settings as unknown as WsgiSettings, origins: origins as ResolvedSettings['origins'] };
}

/**
 * The settings for one request to a mount: every layer that matches the request URL (path, no
 * query) and the script file it maps to (for WSGIScriptAliasMatch, the script after `$n`
 * substitution; for a directory mount, the file found in it).
 */
export function settingsFor(mount: Pick<Mount, 'layers'>, url: string, script: string): ResolvedSettings {
  return merge(mount.layers, url, script);
}

/**
 * The settings shown for a mount as a whole: for WSGIScriptAlias those of a request to its own
 * URL; for WSGIScriptAliasMatch those of the layers that apply to every URL it serves.
 */
export function mountSettings(mount: RawMount, layers: readonly SettingsLayer[]): ResolvedSettings {
  return mount.regex ? merge(layers, undefined, undefined) : merge(layers, mount.url, mount.script);
}
