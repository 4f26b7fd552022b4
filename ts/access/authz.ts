/**
 * mod_authz_core's evaluation of a Require tree (apply_authz_sections) with the providers pyhost
 * has: `all`, `ip`, `local`, `env`, `method` (mod_authz_core, mod_authz_host), `valid-user`,
 * `user` (mod_authz_user), `group` (mod_authz_groupfile) and mod_wsgi's `wsgi-group`.
 */
import type { RequireGroup, RequireLine, RequireNode } from '../config/access-plan.js';
import { groupsOf } from './auth-files.js';
import { clientBytes, inSubnet, parseSubnet, type Subnet } from './ip.js';
import { hasMethod, methodKey } from './methods.js';

/** A provider's (or a container's) answer. */
export type AuthzResult = 'granted' | 'denied' | 'denied-no-user' | 'neutral' | 'error';

/** What the providers look at. */
export interface AuthzRequest {
  readonly method: string;
  readonly clientAddr: string;
  readonly localAddr: string;
  readonly user?: string;
  /** Variables set before access checks (SetEnvIf). */
  readonly env: ReadonlyMap<string, string>;
  readonly groupFile?: string;
  /** WSGIAuthGroupScript's groups_for_user; undefined when none is configured. */
  readonly wsgiGroups?: (user: string) => Promise<readonly string[] | 'error'>;
  /** Logs one line (failures Apache logs at error level). */
  readonly log: (message: string) => void;
}

const subnetCache = new Map<string, Subnet[]>();

function subnets(args: string): Subnet[] {
  let list = subnetCache.get(args);
  if (!list) {
    list = args.split(/\s+/).filter(Boolean).map((w) => {
      const [a, m] = w.split('/', 2) as [string, string | undefined];
      return parseSubnet(a, m);
    }).filter((s): s is Subnet => typeof s === 'object');
    subnetCache.set(args, list);
  }
  return list;
}

const LOCALHOST_V4 = parseSubnet('127.0.0.0', '8') as Subnet;
const LOCALHOST_V6 = parseSubnet('::1') as Subnet;

function sameAddress(a: string, b: string): boolean {
  const x = clientBytes(a);
  const y = clientBytes(b);
  return !!x && !!y && x.family === y.family && x.bytes.every((v, i) => v === y.bytes[i]);
}

async function provider(line: RequireLine, r: AuthzRequest): Promise<AuthzResult> {
  const words = line.args.split(/\s+/).filter(Boolean);
  switch (line.provider) {
    case 'all': return /^granted$/i.test(line.args) ? 'granted' : 'denied';
    case 'ip': return subnets(line.args).some((s) => inSubnet(s, r.clientAddr)) ? 'granted' : 'denied';
    case 'local':
      return sameAddress(r.localAddr, r.clientAddr) || inSubnet(LOCALHOST_V4, r.clientAddr) || inSubnet(LOCALHOST_V6, r.clientAddr) ? 'granted' : 'denied';
    case 'env': return words.some((w) => r.env.has(w)) ? 'granted' : 'denied';
    case 'method': return words.some((w) => methodKey(w) === methodKey(r.method)) ? 'granted' : 'denied';
    case 'valid-user': return r.user !== undefined ? 'granted' : 'denied-no-user';
    case 'user':
      if (r.user === undefined) return 'denied-no-user';
      return words.includes(r.user) ? 'granted' : 'denied';
    case 'group': {
      if (r.user === undefined) return 'denied-no-user';
      if (!r.groupFile) { r.log('No group file was specified in the configuration'); return 'denied'; }
      let groups: ReadonlySet<string>;
      try {
        groups = await groupsOf(r.groupFile, r.user);
      } catch (e) {
        r.log(`Could not open group file: ${r.groupFile}: ${(e as Error).message}`);
        return 'denied';
      }
      return words.some((w) => groups.has(w)) ? 'granted' : 'denied';
    }
    case 'wsgi-group': {
      if (r.user === undefined) return 'denied-no-user';
      if (!r.wsgiGroups) { r.log('Location of WSGI group authorization script not provided.'); return 'denied'; }
      const groups = await r.wsgiGroups(r.user);
      if (groups === 'error' || groups.length === 0) return 'denied';
      return words.some((w) => groups.includes(w)) ? 'granted' : 'denied';
    }
  }
  return 'denied';
}

/** apply_authz_sections: `parent` is the operator of the enclosing container (the root's is `all`). */
export async function applyAuthz(node: RequireNode, parent: 'all' | 'any', r: AuthzRequest): Promise<AuthzResult> {
  if (!hasMethod(node.limited, r.method)) return parent === 'all' ? 'granted' : 'neutral';
  let result: AuthzResult;
  if (node.kind === 'require') {
    result = await provider(node, r);
  } else {
    result = await applyGroup(node, r);
  }
  if (node.negate) {
    if (result === 'granted') result = 'denied';
    else if (result === 'denied' || result === 'denied-no-user') result = 'neutral';
  }
  return result;
}

async function applyGroup(group: RequireGroup, r: AuthzRequest): Promise<AuthzResult> {
  let result: AuthzResult = 'neutral';
  for (const child of group.children) {
    // A negated child's provider ran un-negated; the negation is applied in applyAuthz.
    const c = await applyAuthz(child, group.op, r);
    if (c === 'error') return 'error';
    if (c === 'neutral') continue;
    if (group.op === 'all') {
      if (c === 'denied') return 'denied';
      if ((c === 'denied-no-user' && result !== 'denied') || result === 'neutral') result = c;
    } else {
      if (c === 'granted') return 'granted';
      if ((c === 'denied-no-user' && result === 'denied') || result === 'neutral') result = c;
    }
  }
  return result;
}
