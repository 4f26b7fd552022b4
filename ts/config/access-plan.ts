/**
 * The access-control part of a plan: what Apache's access modules (mod_authz_core, mod_authz_host,
 * mod_authz_user, mod_authz_groupfile, mod_access_compat, mod_authn_core, mod_auth_basic,
 * mod_authn_file, mod_setenvif) and mod_wsgi's auth hooks read from each `<Directory>`,
 * `<Location>` and `<Files>` section, kept as written (plain, JSON-serialisable data). The
 * evaluator in ts/access/ merges the sections that apply to a request, in Apache's order, and
 * runs them as Apache's request cycle does.
 */
import type { Matcher, SourceLocation } from './plan.js';

/**
 * The methods a directive applies to, as Apache's `cmd->limited`: every method but `except`
 * (outside `<Limit>`, or in `<LimitExcept>`), or `only` those (in `<Limit>`). Names are upper
 * case; HEAD is GET (Apache gives them one method number).
 */
export type MethodSet = { readonly only: readonly string[] } | { readonly except: readonly string[] };

/** One `Require [not] provider args` line. */
export interface RequireLine extends SourceLocation {
  readonly kind: 'require';
  /** The provider, lower case: `all`, `ip`, `user`, `group`, `wsgi-group`, ... */
  readonly provider: string;
  /** The rest of the line, unsplit (providers split it themselves). */
  readonly args: string;
  readonly negate: boolean;
  readonly limited: MethodSet;
}

/** A `<RequireAll>` (`all`) / `<RequireAny>` (`any`) / `<RequireNone>` (negated `any`) container. */
export interface RequireGroup extends SourceLocation {
  readonly kind: 'group';
  readonly op: 'all' | 'any';
  readonly negate: boolean;
  /** Union of its children's methods (mod_authz_core checks it before looking inside). */
  readonly limited: MethodSet;
  readonly children: readonly RequireNode[];
  /** Set for the container AuthMerging And/Or builds out of two sections (messages only). */
  readonly merged?: boolean;
}

/** A node of a section's authorization tree. */
export type RequireNode = RequireLine | RequireGroup;

/** One `Allow from` / `Deny from` argument (mod_access_compat). */
export interface HostRule extends SourceLocation {
  /** `all`; `env` (variable set) / `not-env` (`env=!VAR`); `ip` (an address, partial address or subnet). */
  readonly kind: 'all' | 'env' | 'not-env' | 'ip';
  /** The variable or the address text as written. */
  readonly value: string;
  readonly limited: MethodSet;
}

/** A value set for some methods (`Order`, `Satisfy`): later entries win for their methods. */
export interface PerMethod<T> extends SourceLocation {
  readonly methods: MethodSet;
  readonly value: T;
}

/** What one section says for mod_access_compat (present when it has any of its directives: they replace the outer section's). */
export interface CompatRules {
  readonly order: readonly PerMethod<'deny,allow' | 'allow,deny' | 'mutual-failure'>[];
  readonly allow: readonly HostRule[];
  readonly deny: readonly HostRule[];
  readonly satisfy: readonly PerMethod<'all' | 'any'>[];
}

/** A `WSGIAccessScript`, `WSGIAuthUserScript` or `WSGIAuthGroupScript`. */
export interface HookScript extends SourceLocation {
  readonly script: string;
  /** `application-group=` as written; default `%{GLOBAL}` (mod_wsgi runs hooks in the main interpreter). */
  readonly applicationGroup: string;
  /** pyhost's `process-group=`: a daemon group to run the hook in; `''` (default) for the serving process, as mod_wsgi. */
  readonly processGroup: string;
}

/** A value with the line that set it. */
export interface Located<T> extends SourceLocation {
  readonly value: T;
}

/** Everything one section sets for access control. Unset fields inherit from outer sections. */
export interface SectionAccess {
  /** The section's authorization tree (`Require` lines and containers), under an implicit `<RequireAny>`. */
  readonly require?: RequireGroup;
  /** AuthMerging: `off` (default: the section's Require lines replace the outer ones), `and`, `or`. */
  readonly merging?: Located<'off' | 'and' | 'or'>;
  /** AuthzSendForbiddenOnFailure. */
  readonly forbiddenOnFailure?: Located<boolean>;
  readonly compat?: CompatRules;
  /** AuthType as written (`Basic`; `None` turns authentication off). */
  readonly authType?: Located<string>;
  readonly authName?: Located<string>;
  readonly userFile?: Located<string>;
  readonly groupFile?: Located<string>;
  /** AuthBasicProvider: `file` and/or `wsgi`, in order (default `file`). */
  readonly basicProviders?: Located<readonly string[]>;
  /** AuthBasicAuthoritative (default on). */
  readonly basicAuthoritative?: Located<boolean>;
  readonly accessScript?: HookScript;
  readonly authUserScript?: HookScript;
  readonly authGroupScript?: HookScript;
  /** `SetEnvIf` family rules of the section (mod_setenvif, run before access checks). */
  readonly setEnv?: readonly SetEnvRule[];
  /** AllowOverride / AllowOverrideList of a `<Directory>`: whether `.htaccess` files may restrict access. */
  readonly allowOverride?: readonly (SourceLocation & { readonly list: boolean; readonly restricts: boolean; readonly text: string })[];
}

/** One `SetEnvIf`, `SetEnvIfNoCase`, `BrowserMatch` or `BrowserMatchNoCase`. */
export interface SetEnvRule extends SourceLocation {
  /** `Remote_Addr`, `Request_Method`, `Request_URI`, `Request_Protocol`, `Server_Addr`, a header name, or a regex on header names. */
  readonly attribute: string;
  /** The attribute is a regular expression on header names (it contained a regex special character). */
  readonly attributeIsRegex: boolean;
  readonly regex: { readonly source: string; readonly flags: string };
  /** `VAR` or `VAR=value` sets, `!VAR` unsets. */
  readonly actions: readonly { readonly name: string; readonly value?: string; readonly unset: boolean }[];
}

/** A section that sets access control, with what it matches, in a server's merge order. */
export interface AccessLayer extends SourceLocation {
  readonly scope: 'directory' | 'files' | 'location';
  /** E.g. `<Location /admin>`. */
  readonly label: string;
  /** Location layers: the request URL must match. */
  readonly url?: Matcher;
  /** Directory and files layers: the file the request maps to must be inside (or match) these. */
  readonly directories?: readonly Matcher[];
  readonly files?: readonly Matcher[];
  readonly access: SectionAccess;
}

/** A `<Directory>`'s AllowOverride, where it lets `.htaccess` files restrict access. */
export interface OverrideScope extends SourceLocation {
  /** The directory (absolute) or its wildcard pattern. */
  readonly directory: Matcher;
  /** Whether `.htaccess` files there may hold AuthConfig / Limit directives. */
  readonly restricts: boolean;
  /** AllowOverrideList (else AllowOverride): the two are merged separately. */
  readonly list: boolean;
  /** The AllowOverride (or AllowOverrideList) text, for messages. */
  readonly text: string;
}

/** What a server (main server or virtual host) has for access control. */
export interface ServerAccess {
  /** Sections with access settings, in Apache's merge order (main server's before a virtual host's). */
  readonly layers: readonly AccessLayer[];
  /** Server-level SetEnvIf rules (main server's, then the virtual host's). */
  readonly setEnv: readonly SetEnvRule[];
  /** `<Directory>` AllowOverride settings in merge order (the last match wins). */
  readonly overrides: readonly OverrideScope[];
  /** AccessFileName (default `.htaccess`). */
  readonly accessFileNames: readonly string[];
}

/** An access restriction pyhost does not enforce: the configuration is refused unless allowed. */
export interface UnenforcedRestriction extends SourceLocation {
  /** The directive or section as written, e.g. `Require expr` or `<If>`. */
  readonly directive: string;
  /** Why pyhost cannot enforce it, and what Apache would do. */
  readonly reason: string;
}
