/**
 * Reads the access-control directives of a configuration (Apache's mod_authz_core,
 * mod_authz_host, mod_authz_user, mod_authz_groupfile, mod_access_compat, mod_authn_core,
 * mod_auth_basic, mod_authn_file, mod_setenvif, core's AllowOverride, and mod_wsgi's auth hooks)
 * into each section's {@link SectionAccess}, with Apache's contexts and messages, and lists what
 * restricts access but is not enforced by pyhost (see {@link UnenforcedRestriction}).
 */
import { ConfigError } from '../errors.js';
import { KNOWN_METHODS, exceptMethods, intersectMethods, onlyMethods, unionMethods } from '../access/methods.js';
import { parseSubnet } from '../access/ip.js';
import type { DirectiveNode, SectionNode } from './ast.js';
import type {
  CompatRules, HookScript, HostRule, Located, MethodSet, PerMethod, RequireGroup, RequireNode, SectionAccess, SetEnvRule,
  UnenforcedRestriction,
} from './access-plan.js';
import { absolutize } from './aliases.js';
import { nextWord, parseOptions } from './lexer.js';
import { apacheRegex } from './patterns.js';
import type { Matcher } from './plan.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A `<RequireAll/Any/None>` being read (children and methods grow). */
type OpenGroup = Mutable<RequireGroup> & { children: RequireNode[] };

/** A section's access settings while it is being read. */
export type SectionAccessDraft = Mutable<SectionAccess> & {
  require?: OpenGroup;
  compat?: { order: PerMethod<CompatRules['order'][number]['value']>[]; allow: HostRule[]; deny: HostRule[]; satisfy: PerMethod<'all' | 'any'>[] };
  setEnv?: SetEnvRule[];
  allowOverride?: Mutable<NonNullable<SectionAccess['allowOverride']>[number]>[];
};

/** Where an access directive is read. */
export interface AccessPlace {
  /** The enclosing `<Directory>`/`<Location>`/`<Files>`, if any. */
  readonly section?: {
    readonly kind: 'directory' | 'location' | 'files'; readonly label: string; readonly matcher: Matcher;
    readonly file: string; readonly line: number; access?: SectionAccessDraft;
  };
  /** `vhost` inside a `<VirtualHost>` (outside sections), `server` at top level. */
  readonly level: 'server' | 'vhost' | 'dir';
  /** The methods of the enclosing `<Limit>`/`<LimitExcept>`. */
  readonly limited: MethodSet;
  /** The enclosing `<RequireAll/Any/None>`, if any. */
  readonly group?: OpenGroup;
}

/** Server-level things access directives set. */
export interface ServerAccessDraft {
  setEnv: SetEnvRule[];
  accessFileNames?: string[];
}

/** Directives this module reads (lower case). */
export const ACCESS_DIRECTIVES: ReadonlySet<string> = new Set([
  'require', 'authmerging', 'authzsendforbiddenonfailure', 'order', 'allow', 'deny', 'satisfy', 'authtype', 'authname',
  'authuserfile', 'authgroupfile', 'authbasicprovider', 'authbasicauthoritative', 'wsgiaccessscript', 'wsgiauthuserscript',
  'wsgiauthgroupscript', 'wsgigroupauthoritative', 'wsgiuserauthoritative', 'allowoverride', 'allowoverridelist',
  'accessfilename', 'setenvif', 'setenvifnocase', 'browsermatch', 'browsermatchnocase',
]);

/** Sections this module reads. */
export const ACCESS_SECTIONS: ReadonlySet<string> = new Set(['requireall', 'requireany', 'requirenone', 'limit', 'limitexcept']);

/** Require providers pyhost evaluates. */
const PROVIDERS = new Set(['all', 'ip', 'local', 'env', 'method', 'valid-user', 'user', 'group', 'wsgi-group']);

/**
 * Directives of modules pyhost does not implement that can refuse requests: authentication and
 * authorization modules (Auth*, Anonymous*), mod_ssl's client checks, mod_rewrite's rules (the
 * F and G flags refuse; any rule can send a request to other access rules), SetEnvIfExpr
 * (an ap_expr deciding variables that `Require env` reads).
 */
const FOREIGN = /^(auth(?!basicfake$)|anonymous|sslrequire|sslverifyclient$|rewriterule$|setenvifexpr$)/;

/** Whether a directive name (lower case) belongs to access control (read here, or unenforced). */
export function isAccessDirective(key: string): boolean {
  return ACCESS_DIRECTIVES.has(key) || FOREIGN.test(key);
}

/** Access directives that do not themselves refuse requests. */
const NOT_RESTRICTING = new Set(['accessfilename', 'allowoverride', 'allowoverridelist', 'setenvif', 'setenvifnocase', 'browsermatch',
  'browsermatchnocase', 'wsgigroupauthoritative']);

/** Whether a directive (lower case) restricts access where it applies (so a section pyhost skips must not hold it). */
export const restrictsAccess = (key: string): boolean => isAccessDirective(key) && !NOT_RESTRICTING.has(key);

const ALLOWED_OVERRIDES = new Set(['all', 'none', 'authconfig', 'fileinfo', 'indexes', 'limit']);

/**
 * Reads access directives and sections for the collector. One instance per configuration.
 */
export class AccessReader {
  readonly unenforced: UnenforcedRestriction[] = [];
  /** An `Allow from env=` / `Require env` exists: SetEnvIfExpr then matters. */
  usesEnv = false;
  readonly envExprs: DirectiveNode[] = [];
  /** Containers that lost a Require line pyhost does not enforce (their emptiness is not an error then). */
  private readonly dropped = new WeakSet<OpenGroup>();

  constructor(private readonly serverRoot: string) {}

  /** Records a restriction pyhost does not enforce. */
  refuse(node: { name: string; file: string; line: number }, reason: string, directive = node.name): void {
    this.unenforced.push({ directive, file: node.file, line: node.line, reason });
  }

  /**
   * A `<Limit>`, `<LimitExcept>` or `<RequireAll/Any/None>`: returns the place its children are read in.
   */
  section(node: SectionNode, place: AccessPlace): AccessPlace {
    const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
    if (node.key === 'limit' || node.key === 'limitexcept') {
      if (node.args.length === 0) fail(`<${node.name}> requires at least one argument, an HTTP method`);
      if (place.group) fail(`<${node.name}> cannot occur within <${place.group.negate ? 'RequireNone' : place.group.op === 'all' ? 'RequireAll' : 'RequireAny'}> section`);
      const set = node.key === 'limit' ? onlyMethods(node.args) : exceptMethods(node.args);
      return { ...place, limited: intersectMethods(place.limited, set) };
    }
    if (place.level !== 'dir') fail(`<${node.name}> not allowed ${place.level === 'vhost' ? 'in <VirtualHost> context' : 'here'}: it belongs in <Directory>, <Location> or <Files>`);
    if (node.args.length) fail(`<${node.name}> directive doesn't take additional arguments`);
    const group: OpenGroup = {
      kind: 'group', op: node.key === 'requireall' ? 'all' : 'any', negate: node.key === 'requirenone',
      limited: { only: [] }, children: [], file: node.file, line: node.line,
    };
    const parent = place.group ?? this.root(place);
    if (group.negate && parent.op === 'any') fail(`<RequireNone> directive has no effect in <RequireAny> directive: put it inside <RequireAll>`);
    parent.children.push(group);
    return { ...place, group };
  }

  /** Called when a `<RequireAll/Any/None>` section ends: checks it and passes its methods up. */
  endSection(node: SectionNode, inner: AccessPlace, outer: AccessPlace): void {
    const group = inner.group;
    if (!group || group === outer.group) return;
    if (this.dropped.has(group) && group.children.every((c) => c.negate)) {
      // Only unenforced lines were positive: Apache's checks cannot be made; the container is dropped too.
      const parent = outer.group ?? this.root(outer);
      parent.children.splice(parent.children.indexOf(group), 1);
      this.dropped.add(parent);
      return;
    }
    if (group.children.length === 0) throw new ConfigError(node.file, node.line, `<${node.name}> directive contains no authorization directives`);
    if (group.children.every((c) => c.negate)) throw new ConfigError(node.file, node.line, `<${node.name}> directive contains only negative authorization directives`);
    const parent = outer.group ?? this.root(outer);
    parent.limited = unionMethods(parent.limited, group.limited);
  }

  /** Checks a finished section's implicit `<RequireAny>` (Apache: AH01624). */
  checkSection(access: SectionAccessDraft | undefined, file: string, line: number): void {
    const root = access?.require;
    if (root && !this.dropped.has(root) && root.children.length && root.children.every((c) => c.negate)) {
      throw new ConfigError(file, line, '<Directory>, <Location>, or similar directive contains only negative authorization directives');
    }
  }

  private draft(place: AccessPlace): SectionAccessDraft {
    const s = place.section!;
    return (s.access ??= {});
  }

  private root(place: AccessPlace): OpenGroup {
    const d = this.draft(place);
    const { file, line } = place.section!;
    return (d.require ??= { kind: 'group', op: 'any', negate: false, limited: { only: [] }, children: [], file, line });
  }

  /** One access directive. Server-level ones (SetEnvIf, AccessFileName) go to `server`. */
  directive(node: DirectiveNode, place: AccessPlace, server: ServerAccessDraft): void {
    const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
    const at = { file: node.file, line: node.line };
    const key = node.key;
    if (!ACCESS_DIRECTIVES.has(key)) {
      if (key === 'setenvifexpr') { this.envExprs.push(node); return; }
      const why = key === 'rewriterule' ? 'mod_rewrite rules can refuse requests (F, G) or send them to other access rules; pyhost does not run them'
        : key.startsWith('ssl') ? "mod_ssl's client checks: pyhost does not serve TLS"
        : 'it belongs to an Apache authentication or authorization module pyhost does not implement';
      return this.refuse(node, `${node.name}: ${why}`);
    }
    if (key === 'setenvif' || key === 'setenvifnocase' || key === 'browsermatch' || key === 'browsermatchnocase') {
      const rule = this.setEnvRule(node);
      if (place.level === 'dir') (this.draft(place).setEnv ??= []).push(rule);
      else server.setEnv.push(rule);
      return;
    }
    if (key === 'accessfilename') {
      if (place.level === 'dir') fail(`AccessFileName not allowed here (${place.section!.label}): allowed at server level and in <VirtualHost>`);
      if (node.args.length === 0) fail('AccessFileName requires at least one argument, a file name');
      server.accessFileNames = [...node.args];
      return;
    }
    if (key === 'wsgiuserauthoritative') {
      fail(`Invalid command 'WSGIUserAuthoritative', perhaps misspelled or defined by a module not included in the server configuration ` +
        `(mod_wsgi 4.9 has it only for Apache 2.2; on Apache 2.4 use AuthBasicAuthoritative)`);
    }
    if (place.level !== 'dir') {
      fail(`${node.name} not allowed ${place.level === 'vhost' ? 'in <VirtualHost> context' : 'here'}: it belongs in <Directory>, <Location> or <Files>`);
    }
    const section = place.section!;
    const d = this.draft(place);
    const one = (what: string): string => {
      if (node.args.length !== 1) fail(`${node.name} takes one argument, ${what}, got ${node.args.length}`);
      return node.args[0]!;
    };
    const flag = (): boolean => {
      const v = one('On or Off');
      if (!/^(on|off)$/i.test(v)) fail(`${node.name} must be On or Off`);
      return v.toLowerCase() === 'on';
    };
    const located = <T>(value: T): Located<T> => ({ value, ...at });
    switch (key) {
      case 'require': return this.require(node, place);
      case 'authmerging': {
        const v = one('Off, And or Or').toLowerCase();
        if (v !== 'off' && v !== 'and' && v !== 'or') fail('AuthMerging must be one of: Off | And | Or');
        d.merging = located(v as 'off' | 'and' | 'or');
        return;
      }
      case 'authzsendforbiddenonfailure': d.forbiddenOnFailure = located(flag()); return;
      case 'order': case 'allow': case 'deny': case 'satisfy': return this.compat(node, place, d);
      case 'authtype': {
        const v = one('an authentication type such as Basic');
        if (v.includes('%{')) return this.refuse(node, 'AuthType with an expression: pyhost does not evaluate ap_expr expressions');
        if (!/^(basic|none)$/i.test(v)) {
          return this.refuse(node, `AuthType ${v}: pyhost implements Basic authentication only (Apache would ask for ${v} credentials)`, `AuthType ${v}`);
        }
        d.authType = located(v);
        return;
      }
      case 'authname': {
        const v = one('the authentication realm');
        if (v.includes('%{')) return this.refuse(node, 'AuthName with an expression: pyhost does not evaluate ap_expr expressions');
        d.authName = located(v);
        return;
      }
      case 'authuserfile': d.userFile = located(absolutize(one('a password file'), this.serverRoot)); return;
      case 'authgroupfile': d.groupFile = located(absolutize(one('a group file'), this.serverRoot)); return;
      case 'authbasicprovider': {
        if (node.args.length === 0) fail('AuthBasicProvider requires at least one argument, a provider name');
        const bad = node.args.filter((p) => p !== 'file' && p !== 'wsgi');
        if (bad.length) {
          return this.refuse(node, `authentication provider '${bad[0]}': pyhost has the 'file' (AuthUserFile) and 'wsgi' (WSGIAuthUserScript) providers only`, `AuthBasicProvider ${bad[0]}`);
        }
        d.basicProviders = located([...(d.basicProviders?.value ?? []), ...node.args]);
        return;
      }
      case 'authbasicauthoritative': d.basicAuthoritative = located(flag()); return;
      case 'wsgiaccessscript': d.accessScript = this.hook(node, 'access script'); return;
      case 'wsgiauthuserscript': d.authUserScript = this.hook(node, 'auth user script'); return;
      case 'wsgiauthgroupscript': d.authGroupScript = this.hook(node, 'auth group script'); return;
      case 'wsgigroupauthoritative': flag(); return; // accepted; no effect on Apache 2.4 (see docs/mod_wsgi-reference.md)
      case 'allowoverride': case 'allowoverridelist': return this.override(node, section, d);
    }
  }

  private require(node: DirectiveNode, place: AccessPlace): void {
    const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
    let w = nextWord(node.raw, 0, node);
    let negate = false;
    if (w && w.word.toLowerCase() === 'not') { negate = true; w = nextWord(node.raw, w.next, node); }
    const provider = (w?.word ?? '').toLowerCase();
    const args = w ? node.raw.slice(w.next).trim() : '';
    const name = `Require ${negate ? 'not ' : ''}${w?.word ?? ''}`;
    const parent = place.group ?? this.root(place);
    if (negate && parent.op === 'any') fail(`negative Require directive has no effect in <RequireAny> directive: put it inside <RequireAll>`);
    if (!PROVIDERS.has(provider)) {
      if (provider === '') fail('Require needs a provider: e.g. Require all granted, Require valid-user');
      const why = provider === 'expr' ? 'pyhost does not evaluate ap_expr expressions'
        : provider === 'host' || provider === 'forward-dns' ? 'it needs DNS lookups of the client, which pyhost does not make'
        : `pyhost has no '${provider}' authorization provider (a module or <AuthzProviderAlias> it does not implement)`;
      // Left out of the tree: served at all (--allow-unenforced), the protection is off.
      this.refuse(node, `${name}: ${why}`, name);
      this.dropped.add(parent);
      return;
    }
    const words = args.split(/\s+/).filter(Boolean);
    if (provider === 'all' && !/^(granted|denied)$/i.test(args)) fail("Argument for 'Require all' must be 'granted' or 'denied'");
    if (provider === 'ip') {
      if (!words.length) fail('Require ip takes one or more addresses or subnets');
      for (const word of words) {
        const [addr, mask] = word.split('/', 2) as [string, string | undefined];
        const s = parseSubnet(addr, mask);
        if (typeof s !== 'object') fail(`ip address '${word}' appears to be invalid`);
      }
    }
    if (provider === 'method') {
      for (const m of words) if (!KNOWN_METHODS.has(m)) fail(`Invalid Method '${m}'`);
    }
    if ((provider === 'user' || provider === 'group' || provider === 'wsgi-group' || provider === 'env') && args.includes('%{')) {
      this.dropped.add(parent);
      return this.refuse(node, `${name} with an expression: pyhost does not evaluate ap_expr expressions`, name);
    }
    if (provider === 'env') this.usesEnv = true;
    parent.children.push({ kind: 'require', provider, args, negate, limited: place.limited, file: node.file, line: node.line });
    parent.limited = unionMethods(parent.limited, place.limited);
  }

  private compat(node: DirectiveNode, place: AccessPlace, d: SectionAccessDraft): void {
    const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
    const c = (d.compat ??= { order: [], allow: [], deny: [], satisfy: [] });
    const at = { file: node.file, line: node.line };
    if (node.key === 'order') {
      if (node.args.length !== 1) fail(`order takes one argument, 'allow,deny', 'deny,allow', or 'mutual-failure'`);
      const v = node.args[0]!.toLowerCase();
      if (v !== 'allow,deny' && v !== 'deny,allow' && v !== 'mutual-failure') fail('unknown order');
      c.order.push({ methods: place.limited, value: v as 'allow,deny', ...at });
      return;
    }
    if (node.key === 'satisfy') {
      if (node.args.length !== 1) fail("Satisfy either 'any' or 'all'.");
      const v = node.args[0]!.toLowerCase();
      if (v !== 'all' && v !== 'any') fail("Satisfy either 'any' or 'all'.");
      c.satisfy.push({ methods: place.limited, value: v as 'all' | 'any', ...at });
      return;
    }
    if (node.args.length < 2 || node.args[0]!.toLowerCase() !== 'from') fail('allow and deny must be followed by \'from\'');
    const list = node.key === 'allow' ? c.allow : c.deny;
    for (const where of node.args.slice(1)) {
      const lower = where.toLowerCase();
      const rule = (kind: HostRule['kind'], value: string): HostRule => ({ kind, value, limited: place.limited, ...at });
      if (lower.startsWith('env=!')) { this.usesEnv = true; list.push(rule('not-env', where.slice(5))); continue; }
      if (lower.startsWith('env=')) { this.usesEnv = true; list.push(rule('env', where.slice(4))); continue; }
      if (lower === 'all') { list.push(rule('all', where)); continue; }
      const [addr, mask] = where.split('/', 2) as [string, string | undefined];
      const s = parseSubnet(addr, mask);
      if (s === 'bad' || (s === 'not-ip' && mask !== undefined)) fail(mask !== undefined ? 'An IP address was expected' : `'${where}' is not a valid IP address or network`);
      if (s === 'not-ip') {
        if (where.includes('#')) fail('No comments are allowed here');
        this.refuse(node, `${node.name} from ${where}: a host name needs DNS lookups of the client, which pyhost does not make`, `${node.name} from ${where}`);
        // Unknown host: count it as matching no client, so an Order stays evaluable.
        continue;
      }
      list.push(rule('ip', where));
    }
  }

  private hook(node: DirectiveNode, what: string): HookScript {
    const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
    const first = nextWord(node.raw, 0, node);
    if (!first || first.word === '') fail(`Location of ${what} not supplied.`);
    let applicationGroup = '%{GLOBAL}';
    let processGroup = '';
    for (const { name, value } of parseOptions(node.raw.slice(first!.next), node, `Invalid option to WSGI ${what} definition.`)) {
      if (name === 'application-group') {
        if (value === '') fail('Invalid name for WSGI application group.');
        applicationGroup = value;
      } else if (name === 'process-group') {
        if (value === '') fail('Invalid name for WSGI process group.');
        processGroup = value === '%{GLOBAL}' ? '' : value;
      } else {
        fail(`Invalid option to WSGI ${what} definition: unknown option '${name}' (expected application-group, or pyhost's process-group)`);
      }
    }
    if (/%\{(RESOURCE|SERVER|HOST|ENV:)/.test(applicationGroup)) {
      fail(`${node.name}: application-group=${applicationGroup} names a per-request group; give a fixed name or %{GLOBAL}`);
    }
    return { script: absolutize(first!.word, this.serverRoot), applicationGroup, processGroup, file: node.file, line: node.line };
  }

  private override(node: DirectiveNode, section: NonNullable<AccessPlace['section']>, d: SectionAccessDraft): void {
    const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
    if (section.kind !== 'directory' || section.matcher.kind === 'regex') {
      fail(`${node.name} not allowed here (${section.label}): it is valid only in <Directory> sections without regular expressions`);
    }
    const words = node.args.map((w) => w.toLowerCase());
    let restricts: boolean;
    if (node.key === 'allowoverride') {
      for (const w of words) if (!ALLOWED_OVERRIDES.has(w.split('=')[0]!) && !w.startsWith('options') && !w.startsWith('nonfatal')) fail(`Illegal override option ${w}`);
      restricts = words.some((w) => w === 'all' || w === 'authconfig' || w === 'limit');
    } else {
      restricts = words.some((w) => w !== 'none' && restrictsAccess(w));
    }
    (d.allowOverride ??= []).push({ list: node.key === 'allowoverridelist', restricts, text: `${node.name} ${node.args.join(' ')}`, file: node.file, line: node.line });
  }

  private setEnvRule(node: DirectiveNode): SetEnvRule {
    const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
    const browser = node.key.startsWith('browsermatch');
    const nocase = node.key.endsWith('nocase');
    const args = browser ? ['User-Agent', ...node.args] : node.args;
    if (args.length < 3) fail(`${node.name} takes ${browser ? 'a regular expression' : 'an attribute, a regular expression'} and at least one variable`);
    const re = apacheRegex(args[1]!);
    if ('error' in re) fail(`Regular expression could not be compiled: '${args[1]}': ${re.error}`);
    const regex = nocase && !(re as { flags: string }).flags.includes('i') ? { ...(re as { source: string; flags: string }), flags: `${(re as { flags: string }).flags}i` } : re as { source: string; flags: string };
    const attribute = args[0]!;
    return {
      attribute, attributeIsRegex: /[\\^$.|?*+()[\]{}]/.test(attribute), regex,
      actions: args.slice(2).map((a) => {
        if (a.startsWith('!')) return { name: a.slice(1), unset: true };
        const eq = a.indexOf('=');
        return eq < 0 ? { name: a, value: '1', unset: false } : { name: a.slice(0, eq), value: a.slice(eq + 1), unset: false };
      }),
      file: node.file, line: node.line,
    };
  }
}

