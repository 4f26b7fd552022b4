/**
 * Walks the configuration tree and collects, per server (main server and each virtual host),
 * what every directive sets and where: the raw material the resolver turns into a plan. Checks
 * each directive's context and arguments as Apache and mod_wsgi do.
 */
import { ConfigError } from '../errors.js';
import type { ConfigNode, DirectiveNode, SectionNode } from './ast.js';
import { type RawAlias, type RawMount, parseAlias, parseImportScript, parseScriptAlias } from './aliases.js';
import { ACCESS_SECTIONS, AccessReader, type AccessPlace, type SectionAccessDraft, type ServerAccessDraft, isAccessDirective, restrictsAccess } from './access.js';
import type { MethodSet } from './access-plan.js';
import { ALL_METHODS } from '../access/methods.js';
import { type DaemonDraft, parseDaemonProcess } from './daemon.js';
import { type Context, HANDLED, OPAQUE_SECTIONS, SCOPE_SECTIONS, UNIMPLEMENTED_WSGI, contextName } from './directives.js';
import { type HostPort, formatHostPort, parseListen, parseServerName, parseVhostAddress } from './hosts.js';
import { sectionMatcher } from './match.js';
import type { ConfigWarning, IgnoredDirective, ImportScript, Listener, Matcher, PartialSettings, SettingName, SettingValue, WsgiSettings } from './plan.js';

type MutableSettings = { -readonly [K in SettingName]?: SettingValue<WsgiSettings[K]> };

/** A `<Directory>`, `<Location>` or `<Files>` section (or a `...Match` form). */
export interface RawSection {
  readonly kind: 'directory' | 'location' | 'files';
  /** E.g. `<Location /admin>`. */
  readonly label: string;
  readonly matcher: Matcher;
  /** The enclosing `<Directory>` or `<Files>` of a nested `<Files>`. */
  readonly parent?: RawSection;
  readonly settings: MutableSettings;
  /** Access control the section sets (Require, Order, AuthType, ...), if any. */
  access?: SectionAccessDraft;
  readonly file: string;
  readonly line: number;
}

/** The main server or one virtual host. */
export interface RawServer {
  readonly kind: 'main' | 'vhost';
  /** `main server` or e.g. `<VirtualHost *:80>`. */
  readonly label: string;
  readonly file: string;
  readonly line: number;
  readonly addresses: HostPort[];
  serverName?: { host: string; port?: number };
  readonly serverAliases: string[];
  readonly settings: MutableSettings;
  /** Sections in file order (nested `<Files>` included, after their parent). */
  readonly sections: RawSection[];
  readonly mounts: RawMount[];
  readonly aliases: RawAlias[];
  /** Server-level SetEnvIf rules and AccessFileName. */
  readonly access: ServerAccessDraft;
  timeout?: number;
}

/** Everything the walk collects. */
export interface Collected {
  readonly main: RawServer;
  readonly vhosts: RawServer[];
  readonly listeners: Listener[];
  readonly daemons: { readonly draft: DaemonDraft; readonly server: RawServer }[];
  readonly imports: { readonly script: ImportScript; readonly server: RawServer }[];
  restrictEmbedded: boolean;
  interpreter: { optimize?: number; environment: Record<string, string> };
  perInterpreterGil: boolean;
  pythonHome?: string;
  pythonPath: string[];
  readonly warnings: ConfigWarning[];
  readonly ignored: IgnoredDirective[];
  /** Access directives read, and the restrictions pyhost does not enforce. */
  readonly access: AccessReader;
}

interface Ctx {
  readonly server: RawServer;
  readonly section?: RawSection;
  /** The enclosing section pyhost does not evaluate, if any. */
  readonly opaque?: SectionNode;
  /** The methods of the enclosing `<Limit>` / `<LimitExcept>` (all outside them). */
  readonly limited?: MethodSet;
  /** The enclosing `<RequireAll/Any/None>`. */
  readonly group?: AccessPlace['group'];
}

/** Why pyhost cannot apply access rules inside a section it does not evaluate. */
function opaqueReason(section: SectionNode): string {
  const where = `inside <${section.name}> (${section.file}:${section.line})`;
  switch (section.key) {
    case 'if': case 'elseif': case 'else':
      return `${where}: pyhost does not evaluate <If> conditions (ap_expr), so it cannot tell when this applies`;
    case 'proxy': case 'proxymatch':
      return `${where}: it applies to requests Apache proxies; pyhost does not proxy (ProxyPass), so those URLs would reach pyhost's own mounts unprotected`;
    default:
      return `${where}: pyhost does not evaluate <${section.name}> sections`;
  }
}

const newServer = (kind: 'main' | 'vhost', label: string, file: string, line: number, addresses: HostPort[]): RawServer => ({
  kind, label, file, line, addresses, serverAliases: [], settings: {}, sections: [], mounts: [], aliases: [], access: { setEnv: [] },
});

const onOff = (node: DirectiveNode): boolean => {
  if (node.args.length !== 1 || !/^(on|off)$/i.test(node.args[0]!)) {
    throw new ConfigError(node.file, node.line, `${node.name} must be one of: Off | On${node.args.length === 1 ? `, got '${node.args[0]}'` : ''}`);
  }
  return node.args[0]!.toLowerCase() === 'on';
};

const one = (node: DirectiveNode, what: string): string => {
  if (node.args.length !== 1) throw new ConfigError(node.file, node.line, `${node.name} takes one argument, ${what}, got ${node.args.length}`);
  return node.args[0]!;
};

class Collector {
  readonly out: Collected;
  private readonly ignoredNames = new Set<string>();
  private readonly daemonNames = new Map<string, DaemonDraft>();

  constructor(file: string, private readonly serverRoot: string) {
    this.out = {
      main: newServer('main', 'main server', file, 1, []), vhosts: [], listeners: [], daemons: [], imports: [],
      restrictEmbedded: false, interpreter: { environment: {} }, perInterpreterGil: false, pythonPath: [], warnings: [], ignored: [], access: new AccessReader(serverRoot),
    };
  }

  private place(ctx: Ctx): AccessPlace {
    return { level: this.context(ctx), limited: ctx.limited ?? ALL_METHODS, ...(ctx.section ? { section: ctx.section } : {}), ...(ctx.group ? { group: ctx.group } : {}) };
  }

  walk(nodes: readonly ConfigNode[], ctx: Ctx): void {
    for (const node of nodes) {
      if (node.type === 'section') this.section(node, ctx);
      else this.directive(node, ctx);
    }
  }

  private context(ctx: Ctx): Context {
    return ctx.section ? 'dir' : ctx.server.kind === 'main' ? 'server' : 'vhost';
  }

  private ignore(name: string, file: string, line: number): void {
    const key = name.toLowerCase();
    if (this.ignoredNames.has(key)) return;
    this.ignoredNames.add(key);
    this.out.ignored.push({ name, file, line });
  }

  private section(node: SectionNode, ctx: Ctx): void {
    const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
    const here = this.context(ctx);
    if (!ctx.opaque && ACCESS_SECTIONS.has(node.key)) {
      const outer = this.place(ctx);
      const inner = this.out.access.section(node, outer);
      this.walk(node.children, { ...ctx, limited: inner.limited, ...(inner.group ? { group: inner.group } : {}) });
      this.out.access.endSection(node, inner, outer);
      return;
    }
    if (ctx.opaque || OPAQUE_SECTIONS.has(node.key)) {
      this.ignore(`<${node.name}>`, node.file, node.line);
      return this.walk(node.children, { ...ctx, opaque: ctx.opaque ?? node });
    }
    if (!SCOPE_SECTIONS.has(node.key)) {
      fail(`Invalid command '<${node.name}>', perhaps misspelled or defined by a module not included in the server configuration`);
    }
    if (node.key === 'virtualhost') {
      if (here === 'vhost') fail(`<VirtualHost> cannot occur within <VirtualHost> section: <VirtualHost> doesn't nest`);
      if (here === 'dir') fail(`<VirtualHost> cannot occur within directory context (${ctx.section!.label})`);
      if (node.args.length === 0) fail('<VirtualHost> directive requires additional arguments: expected addr:port, e.g. <VirtualHost *:80>');
      const addresses = node.args.map((a) => parseVhostAddress(a, node));
      const label = `<VirtualHost ${addresses.map((a) => formatHostPort(a.address, a.port)).join(' ')}>`;
      const server = newServer('vhost', label, node.file, node.line, addresses);
      this.out.vhosts.push(server);
      return this.walk(node.children, { server });
    }
    const isMatch = node.key.endsWith('match');
    const base = isMatch ? node.key.slice(0, -'match'.length) : node.key;
    const kind = base as RawSection['kind'];
    if (kind !== 'files' && here === 'dir') fail(`<${node.name}> cannot occur within directory context (${ctx.section!.label})`);
    if (kind === 'files' && ctx.section?.kind === 'location') fail(`<${node.name}> cannot occur within <Location> section (${ctx.section.label})`);
    const matcher = sectionMatcher(kind, node.name, node.args, isMatch, this.serverRoot, node);
    const section: RawSection = {
      kind, label: `<${node.name} ${node.args.join(' ')}>`, matcher, settings: {}, file: node.file, line: node.line,
      ...(ctx.section ? { parent: ctx.section } : {}),
    };
    ctx.server.sections.push(section);
    this.walk(node.children, { server: ctx.server, section });
    this.out.access.checkSection(section.access, node.file, node.line);
  }

  private directive(node: DirectiveNode, ctx: Ctx): void {
    const fail = (msg: string): never => { throw new ConfigError(node.file, node.line, msg); };
    const isWsgi = node.key.startsWith('wsgi');
    const isAccess = isAccessDirective(node.key);
    if (node.unresolved && (isWsgi || isAccess || HANDLED.has(node.key))) throw node.unresolved;
    if (ctx.opaque && isAccess) {
      if (restrictsAccess(node.key) && !/^authnprovideralias|authzprovideralias$/.test(ctx.opaque.key)) this.out.access.refuse(node, opaqueReason(ctx.opaque));
      return;
    }
    if (isAccess) return this.out.access.directive(node, this.place(ctx), ctx.server.access);
    if (ctx.opaque) {
      if (isWsgi) fail(`${node.name} inside <${ctx.opaque.name}> (${ctx.opaque.file}:${ctx.opaque.line}) cannot be honoured: pyhost does not evaluate <${ctx.opaque.name}> sections; move it outside`);
      return this.ignore(node.name, node.file, node.line);
    }
    const spec = HANDLED.get(node.key);
    if (!spec) {
      if (UNIMPLEMENTED_WSGI.has(node.key)) {
        this.out.warnings.push({ file: node.file, line: node.line, message: `${node.name} is a mod_wsgi directive pyhost does not implement; ignored` });
        return;
      }
      if (isWsgi) fail(`Invalid command '${node.name}', perhaps misspelled or defined by a module not included in the server configuration (not a mod_wsgi directive)`);
      return this.ignore(node.name, node.file, node.line);
    }
    const here = this.context(ctx);
    const aliasInLocation = node.key === 'alias' && ctx.section?.kind === 'location' && ctx.section.matcher.kind === 'path';
    if (!spec.contexts.includes(here) && !aliasInLocation) {
      if (node.key === 'serveralias' && here === 'server') fail('ServerAlias only used in <VirtualHost>');
      if (here === 'vhost') fail(`${spec.name} cannot occur within <VirtualHost> section: it is allowed at server level only`);
      fail(`${spec.name} not allowed here (${ctx.section?.label ?? contextName(here)}): allowed in ${spec.contexts.map(contextName).join(' and ')}`);
    }
    this.apply(node, ctx, spec.name);
  }

  private set<K extends SettingName>(ctx: Ctx, name: K, value: WsgiSettings[K], node: DirectiveNode): void {
    const target = ctx.section ? ctx.section.settings : ctx.server.settings;
    (target as Record<string, SettingValue<unknown>>)[name] = { value, file: node.file, line: node.line };
  }

  private apply(node: DirectiveNode, ctx: Ctx, name: string): void {
    const o = this.out;
    switch (node.key) {
      case 'wsgiscriptalias':
      case 'wsgiscriptaliasmatch':
        ctx.server.mounts.push(parseScriptAlias(node, this.serverRoot));
        return;
      case 'wsgidaemonprocess': {
        const draft = parseDaemonProcess(node, o.warnings);
        const previous = this.daemonNames.get(draft.name);
        if (previous) {
          throw new ConfigError(node.file, node.line, `Name duplicates previous WSGI daemon definition: '${draft.name}' is already defined at ${previous.file}:${previous.line} (names are unique server-wide)`);
        }
        this.daemonNames.set(draft.name, draft);
        o.daemons.push({ draft, server: ctx.server });
        return;
      }
      case 'wsgiimportscript':
        o.imports.push({ script: parseImportScript(node, this.serverRoot), server: ctx.server });
        return;
      case 'wsgiprocessgroup': {
        const v = one(node, 'the name of a daemon process group (or %{GLOBAL} for embedded mode)');
        return this.set(ctx, 'processGroup', v === '%{GLOBAL}' ? '' : v, node);
      }
      case 'wsgiapplicationgroup':
        return this.set(ctx, 'applicationGroup', one(node, 'an application group: %{GLOBAL}, %{SERVER}, %{RESOURCE}, %{ENV:VAR} or a name'), node);
      case 'wsgicallableobject':
        return this.set(ctx, 'callableObject', one(node, 'the name of the WSGI callable in the script'), node);
      case 'wsgipassauthorization':
        return this.set(ctx, 'passAuthorization', onOff(node), node);
      case 'wsgiscriptreloading':
        return this.set(ctx, 'scriptReloading', onOff(node), node);
      case 'wsgichunkedrequest':
        return this.set(ctx, 'chunkedRequest', onOff(node), node);
      case 'wsgirestrictembedded':
        o.restrictEmbedded = onOff(node);
        return;
      case 'wsgimapheadtoget': {
        const v = one(node, 'On, Off or Auto');
        if (!/^(on|off|auto)$/i.test(v)) throw new ConfigError(node.file, node.line, `WSGIMapHEADToGET must be one of: On | Off | Auto, got '${v}'`);
        return this.set(ctx, 'mapHeadToGet', (v[0]!.toUpperCase() + v.slice(1).toLowerCase()) as 'On' | 'Off' | 'Auto', node);
      }
      case 'wsgipythonoptimize': {
        const v = one(node, 'a level: 0, 1 or 2');
        if (!/^[012]$/.test(v)) throw new ConfigError(node.file, node.line, `WSGIPythonOptimize takes 0, 1 or 2 (Python's -O level), got '${v}'`);
        o.interpreter.optimize = Number(v);
        return;
      }
      case 'wsgipythonhashseed': {
        const v = one(node, "'random' or a number from 0 to 4294967295");
        if (v !== 'random' && !(/^\d+$/.test(v) && Number(v) <= 4294967295)) {
          throw new ConfigError(node.file, node.line, `WSGIPythonHashSeed must be 'random' or a number from 0 to 4294967295, got '${v}'`);
        }
        o.interpreter.environment.PYTHONHASHSEED = v;
        return;
      }
      case 'wsgidontwritebytecode':
        if (onOff(node)) o.interpreter.environment.PYTHONDONTWRITEBYTECODE = '1';
        else delete o.interpreter.environment.PYTHONDONTWRITEBYTECODE;
        return;
      case 'wsgipythonwarnings': {
        const v = one(node, 'a warning filter such as ignore::DeprecationWarning');
        const env = o.interpreter.environment;
        env.PYTHONWARNINGS = env.PYTHONWARNINGS ? `${env.PYTHONWARNINGS},${v}` : v;
        return;
      }
      case 'wsgiperinterpretergil':
        o.perInterpreterGil = onOff(node);
        return;
      case 'wsgipythonhome':
        o.pythonHome = one(node, 'the Python installation or virtual environment directory (sys.prefix)');
        return;
      case 'wsgipythonpath':
        o.pythonPath = one(node, 'a colon-separated list of directories').split(':').filter((p) => p !== '');
        return;
      case 'alias':
      case 'aliasmatch': {
        const inLocation = ctx.section?.kind === 'location' && ctx.section.matcher.kind === 'path' ? ctx.section.matcher.path : undefined;
        ctx.server.aliases.push(parseAlias(node, this.serverRoot, inLocation));
        return;
      }
      case 'listen': {
        const l = parseListen(node.args, node);
        const dup = o.listeners.find((x) => x.port === l.port && x.address === l.address);
        if (dup) throw new ConfigError(node.file, node.line, `Cannot define multiple Listeners on the same IP:port (${formatHostPort(l.address, l.port)} is already at ${dup.file}:${dup.line})`);
        o.listeners.push({ ...l, from: 'Listen', file: node.file, line: node.line });
        return;
      }
      case 'servername':
        ctx.server.serverName = parseServerName(node.args, node);
        return;
      case 'serveralias':
        if (node.args.length === 0) throw new ConfigError(node.file, node.line, 'ServerAlias requires at least one argument, a host name');
        ctx.server.serverAliases.push(...node.args);
        return;
      case 'timeout': {
        const v = one(node, 'a number of seconds');
        if (!/^\d+$/.test(v)) throw new ConfigError(node.file, node.line, `Timeout takes a whole number of seconds, got '${v}'`);
        ctx.server.timeout = Number(v);
        return;
      }
    }
    throw new Error(`pyhost: no handler for ${name}`);
  }
}

/**
 * Collects the settings of a configuration tree.
 *
 * @param file the main configuration file (the main server's location).
 * @throws ConfigError for directives in the wrong context, bad arguments, unknown sections and
 *   unknown WSGI directives.
 */
export function collect(nodes: readonly ConfigNode[], file: string, serverRoot: string): Collected {
  const c = new Collector(file, serverRoot);
  c.walk(nodes, { server: c.out.main });
  const access = c.out.access;
  if (access.usesEnv) {
    for (const node of access.envExprs) {
      access.refuse(node, 'SetEnvIfExpr decides variables that Require env / Allow from env= read; pyhost does not evaluate ap_expr expressions');
    }
  }
  return c.out;
}

/** Whether a scope sets nothing. */
export function isEmpty(settings: PartialSettings): boolean {
  return Object.keys(settings).length === 0;
}
