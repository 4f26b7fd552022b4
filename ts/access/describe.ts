/**
 * Access rules as text for `pyhost check-config`: the rule in force at a URL (with the file it
 * maps to), written back in Apache's syntax, compact.
 */
import type { HookScript, RequireNode } from '../config/access-plan.js';
import { literalPrefix } from '../config/match.js';
import type { ServerPlan } from '../config/plan.js';
import { type MergedAccess, mergeAccess } from './merge.js';
import { describeMethods, isAllMethods } from './methods.js';

function requireText(node: RequireNode, top = false): string {
  const limit = isAllMethods(node.limited) ? '' : ` [${describeMethods(node.limited)}]`;
  if (node.kind === 'require') return `Require ${node.negate ? 'not ' : ''}${node.provider}${node.args ? ` ${node.args}` : ''}${limit}`;
  const inner = node.children.map((c) => requireText(c)).join('; ');
  if (top && node.children.length === 1) return inner;
  const name = node.negate ? 'RequireNone' : node.op === 'all' ? 'RequireAll' : 'RequireAny';
  return `<${node.merged ? `AuthMerging ${node.op === 'all' ? 'And' : 'Or'}` : name}> ${inner} </>${limit}`;
}

const hook = (name: string, h: HookScript): string =>
  `${name} ${h.script}${h.applicationGroup !== '%{GLOBAL}' ? ` application-group=${h.applicationGroup}` : ''}${h.processGroup ? ` process-group=${h.processGroup}` : ''}`;

/** One line describing the merged rules (`open` when nothing restricts). */
export function describeAccess(m: MergedAccess): string {
  const parts: string[] = [];
  if (m.compat) {
    const c = m.compat;
    const rules = (what: string, list: typeof c.allow) => (list.length ? [`${what} from ${list.map((r) => (r.kind === 'env' ? `env=${r.value}` : r.kind === 'not-env' ? `env=!${r.value}` : r.value)).join(' ')}`] : []);
    parts.push([...c.order.map((o) => `Order ${o.value}`), ...rules('Allow', c.allow), ...rules('Deny', c.deny), ...c.satisfy.map((s) => `Satisfy ${s.value}`)].join(', '));
  }
  if (m.accessScript) parts.push(hook('WSGIAccessScript', m.accessScript));
  if (m.require) parts.push(requireText(m.require, true));
  const type = m.authType?.value;
  if (type && type.toLowerCase() !== 'none') {
    const providers = m.basicProviders?.value ?? ['file'];
    const users = providers.map((p) => (p === 'wsgi' ? (m.authUserScript ? hook('WSGIAuthUserScript', m.authUserScript) : 'wsgi (no WSGIAuthUserScript)') : `AuthUserFile ${m.userFile?.value ?? '(none)'}`));
    parts.push(`AuthType ${type} realm "${m.authName?.value ?? ''}" (${users.join(', ')}${m.groupFile ? `, AuthGroupFile ${m.groupFile.value}` : ''})`);
  }
  if (m.authGroupScript) parts.push(hook('WSGIAuthGroupScript', m.authGroupScript));
  return parts.length ? parts.join('; ') : 'open (no access rules)';
}

/**
 * Lines for one URL prefix: the rule at `url` for `filename`, then each `<Location>` below the
 * prefix that changes it.
 */
export function accessLines(server: ServerPlan, url: string, filename: string | undefined, loc: (x: { file: string; line: number }) => string): string[] {
  const layers = server.access?.layers ?? [];
  const own = mergeAccess(layers, { uri: url, ...(filename ? { filename } : {}) });
  const lines = [`      access:            ${describeAccess(own)}`];
  const base = url.endsWith('/') ? url : `${url}/`;
  for (const l of layers) {
    if (l.scope !== 'location' || !l.url) continue;
    const prefix = literalPrefix(l.url);
    if (prefix === undefined || !(prefix.startsWith(base) || (url === '' && prefix.startsWith('/'))) || prefix === url) continue;
    const below = mergeAccess(layers, { uri: prefix, ...(filename ? { filename } : {}) });
    lines.push(`      access below ${prefix}: ${describeAccess(below)} (${l.label}, ${loc(l)})`);
  }
  return lines;
}
