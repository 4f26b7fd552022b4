/**
 * The access part of Apache's request cycle (ap_process_request_internal) for one server's
 * sections: the access checkers (mod_access_compat's Order/Allow/Deny, mod_wsgi's
 * WSGIAccessScript), then mod_authz_core without a user, then, when a user is needed, Basic
 * authentication (mod_auth_basic with the `file` and `wsgi` providers) and mod_authz_core again,
 * `Satisfy Any` letting the access checkers alone admit a request. The result is what Apache
 * would answer: go on (with REMOTE_USER / AUTH_TYPE when someone logged in), 401 with the
 * realm, 403 or 500.
 */
import path from 'node:path';
import type { CompatRules, HookScript, HostRule, ServerAccess } from '../config/access-plan.js';
import { ancestors, htaccessIn } from '../config/htaccess.js';
import { passwordHash } from './auth-files.js';
import { applyAuthz, type AuthzRequest } from './authz.js';
import { inSubnet, parseSubnet, type Subnet } from './ip.js';
import { type MergedAccess, mergeAccess } from './merge.js';
import { hasMethod } from './methods.js';
import { verifyPassword } from './passwords.js';
import { applySetEnv } from './setenvif.js';

/** What a request brings to the access checks. */
export interface AccessRequest {
  readonly method: string;
  /** The decoded, normalised URL path. */
  readonly uri: string;
  /** The file the request maps to (script or static file), if any. */
  readonly filename?: string;
  readonly clientAddr: string;
  readonly localAddr: string;
  readonly protocol: string;
  /** Raw request headers. */
  readonly headers: readonly (readonly [string, string])[];
}

/** The auth hooks (mod_wsgi's scripts); each answers 'error' when the script failed (logged by the runner). */
export interface AuthHooks {
  /** allow_access(environ, host): true, false or None (no opinion). */
  allowAccess(hook: HookScript, req: AccessRequest, host: string): Promise<boolean | null | 'error'>;
  /** check_password(environ, user, password): true, false, None (unknown user) or a new user name. */
  checkPassword(hook: HookScript, req: AccessRequest, user: string, password: string): Promise<boolean | null | string | 'error'>;
  /** groups_for_user(environ, user). */
  groupsForUser(hook: HookScript, req: AccessRequest, user: string): Promise<readonly string[] | 'error'>;
}

/** What Apache would do with the request. */
export type AccessDecision =
  | { readonly status: 200; readonly user?: string; readonly authType?: string }
  | { readonly status: 401; readonly realm: string }
  | { readonly status: 403 | 500; readonly reason: string };

type Step = 'ok' | 'declined' | AccessDecision;

const subnetCache = new Map<string, Subnet | undefined>();

function hostMatches(rule: HostRule, method: string, clientAddr: string, env: ReadonlyMap<string, string>): boolean {
  if (!hasMethod(rule.limited, method)) return false;
  switch (rule.kind) {
    case 'all': return true;
    case 'env': return env.has(rule.value);
    case 'not-env': return !env.has(rule.value);
    case 'ip': {
      if (!subnetCache.has(rule.value)) {
        const [a, m] = rule.value.split('/', 2) as [string, string | undefined];
        const s = parseSubnet(a, m);
        subnetCache.set(rule.value, typeof s === 'object' ? s : undefined);
      }
      const s = subnetCache.get(rule.value);
      return !!s && inSubnet(s, clientAddr);
    }
  }
}

/** The value of a per-method setting for `method` (the last entry naming it wins). */
function forMethod<T>(entries: readonly { methods: Parameters<typeof hasMethod>[0]; value: T }[], method: string, fallback: T): T {
  let v = fallback;
  for (const e of entries) if (hasMethod(e.methods, method)) v = e.value;
  return v;
}

/** mod_access_compat's check_dir_access. */
function compatAllows(c: CompatRules, method: string, clientAddr: string, env: ReadonlyMap<string, string>): boolean {
  const any = (rules: readonly HostRule[]) => rules.some((r) => hostMatches(r, method, clientAddr, env));
  switch (forMethod(c.order, method, 'deny,allow')) {
    case 'allow,deny': return any(c.allow) && !any(c.deny);
    case 'deny,allow': return !any(c.deny) || any(c.allow);
    default: return any(c.allow) && !any(c.deny);
  }
}

const escapeQuotes = (s: string): string => s.replace(/(["\\])/g, '\\$1');

/** One server's access control. */
export class AccessControl {
  /** False when the server has no access settings at all: every request passes. */
  readonly active: boolean;

  constructor(
    private readonly access: ServerAccess,
    private readonly hooks: AuthHooks | undefined,
    private readonly log: (message: string) => void,
    private readonly checkHtaccess: boolean,
  ) {
    this.active = access.layers.length > 0 || (checkHtaccess && access.overrides.some((o) => o.restricts));
  }

  /** The merged settings for a request (for messages and `check-config`). */
  settingsFor(req: Pick<AccessRequest, 'uri' | 'filename'>): MergedAccess {
    return mergeAccess(this.access.layers, req);
  }

  async check(req: AccessRequest): Promise<AccessDecision> {
    if (!this.active) return { status: 200 };
    const m = this.settingsFor(req);
    if (this.checkHtaccess && req.filename) {
      for (const dir of ancestors(path.dirname(req.filename))) {
        const found = htaccessIn(this.access, dir);
        if (found.length) {
          const { file, scope } = found[0]!;
          return this.deny(403, `${file} exists and ${scope.text} (${scope.file}:${scope.line}) lets it restrict access; pyhost reads no .htaccess files, so it refuses the request`);
        }
      }
    }
    const env = new Map<string, string>();
    if (this.access.setEnv.length || m.setEnv.length) {
      applySetEnv(this.access.setEnv, req, env);
      applySetEnv(m.setEnv, req, env);
    }
    return new RequestCheck(m, req, env, this.hooks, this.log).run();
  }

  private deny(status: 403 | 500, reason: string): AccessDecision {
    this.log(reason);
    return { status, reason };
  }
}

/** One request's pass through the checks (holds the user once authentication ran). */
class RequestCheck {
  private user: string | undefined;
  private authTypeUsed: string | undefined;

  constructor(
    private readonly m: MergedAccess,
    private readonly req: AccessRequest,
    private readonly env: ReadonlyMap<string, string>,
    private readonly hooks: AuthHooks | undefined,
    private readonly log: (message: string) => void,
  ) {}

  private fail(status: 403 | 500, reason: string): AccessDecision {
    this.log(`${reason}: ${this.req.filename ?? `uri ${this.req.uri}`}`);
    return { status, reason };
  }

  private unauthorized(): AccessDecision {
    return { status: 401, realm: escapeQuotes(this.m.authName?.value ?? '') };
  }

  private get authType(): string | undefined {
    const t = this.m.authType?.value;
    return t && t.toLowerCase() !== 'none' ? t : undefined;
  }

  async run(): Promise<AccessDecision> {
    const satisfy = this.m.compat ? forMethod(this.m.compat.satisfy, this.req.method, 'all' as 'all' | 'any') : 'all';
    const access = await this.accessCheckers();
    if (satisfy === 'any' && access === 'ok') return { status: 200 };
    if (satisfy !== 'any' && access !== 'ok') return access as AccessDecision;
    const userless = await this.authorize(false);
    if (userless === 'ok') return { status: 200 };
    if (userless !== 'declined') return userless;
    const authn = await this.authenticate();
    if (authn !== 'ok') return authn === 'declined' ? this.fail(500, `AuthType ${this.authType} could not check the user`) : authn;
    if (this.user === undefined) {
      return this.fail(500, 'No authentication done but request not allowed without authentication (Authentication not configured?)');
    }
    const authz = await this.authorize(true);
    if (authz !== 'ok') return authz as AccessDecision;
    return { status: 200, user: this.user, ...(this.authTypeUsed ? { authType: this.authTypeUsed } : {}) };
  }

  /** ap_run_access_checker: mod_access_compat, then mod_wsgi's access script. */
  private async accessCheckers(): Promise<Step> {
    const { m, req } = this;
    if (m.compat && !compatAllows(m.compat, req.method, req.clientAddr, this.env)) return this.fail(403, 'client denied by server configuration');
    if (m.accessScript) {
      const allow = this.hooks ? await this.hooks.allowAccess(m.accessScript, req, req.clientAddr) : 'error';
      if (allow === null) return 'ok';
      if (allow !== true) return this.fail(403, `Client denied by server configuration (WSGIAccessScript ${m.accessScript.script})`);
    }
    return 'ok';
  }

  /** mod_authz_core's authorize_user_core. */
  private async authorize(afterAuthn: boolean): Promise<Step> {
    const { m } = this;
    if (!m.require) {
      if (this.authType) return this.fail(500, 'AuthType configured with no corresponding authorization directives');
      return 'ok';
    }
    const r: AuthzRequest = {
      method: this.req.method, clientAddr: this.req.clientAddr, localAddr: this.req.localAddr, env: this.env, log: this.log,
      ...(this.user !== undefined ? { user: this.user } : {}),
      ...(m.groupFile ? { groupFile: m.groupFile.value } : {}),
      ...(m.authGroupScript && this.hooks ? { wsgiGroups: (user: string) => this.hooks!.groupsForUser(m.authGroupScript!, this.req, user) } : {}),
    };
    const result = await applyAuthz(m.require, 'all', r);
    switch (result) {
      case 'granted': return 'ok';
      case 'denied-no-user':
        return afterAuthn ? this.unauthorized() : 'declined';
      case 'denied':
      case 'neutral':
        if (!afterAuthn || !this.authType) return this.fail(403, 'client denied by server configuration');
        this.log(`user ${this.user}: authorization failure for "${this.req.uri}"`);
        return m.forbiddenOnFailure ? { status: 403, reason: 'authorization failure' } : this.unauthorized();
      default:
        return this.fail(500, 'authorization provider error');
    }
  }

  /** ap_run_check_user_id: mod_auth_basic, then mod_authn_core's authenticate_no_user. */
  private async authenticate(): Promise<Step> {
    const type = this.authType;
    if (!type) return 'ok';
    if (type.toLowerCase() !== 'basic') return this.fail(500, `AuthType ${type} configured without corresponding module`);
    if (this.m.authName === undefined) return this.fail(500, `need AuthName: ${this.req.uri}`);
    this.authTypeUsed = type;
    const header = this.req.headers.find(([n]) => n.toLowerCase() === 'authorization')?.[1];
    if (header === undefined) return this.unauthorized();
    const space = header.indexOf(' ');
    const scheme = space < 0 ? header : header.slice(0, space);
    if (scheme.toLowerCase() !== 'basic') {
      this.log(`client used wrong authentication scheme: ${this.req.uri}`);
      return this.unauthorized();
    }
    const decoded = Buffer.from(header.slice(space + 1).replace(/^[ \t]+/, ''), 'base64');
    const colon = decoded.indexOf(0x3a);
    const user = (colon < 0 ? decoded : decoded.subarray(0, colon)).toString('latin1');
    const password = colon < 0 ? Buffer.alloc(0) : decoded.subarray(colon + 1);
    this.user = user;
    let result: 'granted' | 'denied' | 'not-found' | 'error' = 'not-found';
    for (const p of this.m.basicProviders?.value ?? ['file']) {
      result = p === 'wsgi' ? await this.wsgiPassword(user, password) : await this.filePassword(user, password);
      if (result !== 'not-found') break;
    }
    if (result === 'granted') return 'ok';
    if (!this.m.basicAuthoritative && result !== 'denied') return 'declined';
    if (result === 'error') return this.fail(500, `authentication provider error for user ${user}`);
    this.log(result === 'denied' ? `user ${user}: authentication failure for "${this.req.uri}": Password Mismatch` : `user ${user} not found: ${this.req.uri}`);
    return this.unauthorized();
  }

  private async filePassword(user: string, password: Buffer): Promise<'granted' | 'denied' | 'not-found' | 'error'> {
    const file = this.m.userFile?.value;
    if (!file) { this.log('AuthUserFile not specified in the configuration'); return 'error'; }
    let hash: string | undefined;
    try {
      hash = await passwordHash(file, user);
    } catch (e) {
      this.log(`Could not open password file: ${file}: ${(e as Error).message}`);
      return 'error';
    }
    if (hash === undefined) return 'not-found';
    return (await verifyPassword(password, hash)) ? 'granted' : 'denied';
  }

  private async wsgiPassword(user: string, password: Buffer): Promise<'granted' | 'denied' | 'not-found' | 'error'> {
    const hook = this.m.authUserScript;
    if (!hook || !this.hooks) { this.log('Location of WSGI user authentication script not provided.'); return 'error'; }
    const r = await this.hooks.checkPassword(hook, this.req, user, password.toString('latin1'));
    if (r === 'error') return 'error';
    if (r === null) return 'not-found';
    if (typeof r === 'string') { this.user = r; return 'granted'; }
    return r ? 'granted' : 'denied';
  }
}
