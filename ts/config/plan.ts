/**
 * The typed plan a mod_wsgi configuration file describes: what to listen on, which virtual hosts
 * answer, which URL prefixes run which WSGI script in which process and application group, which
 * daemon process groups to start, and which static files to serve. {@link loadConfig} builds it;
 * the plan is plain data (JSON-serialisable: regular expressions are kept as source strings).
 *
 * Conventions:
 * - The process group `''` means embedded mode (mod_wsgi's `%{GLOBAL}` process group, and the
 *   value of `mod_wsgi.process_group` in embedded mode).
 * - Application groups are kept raw (`%{GLOBAL}`, `%{SERVER}`, `%{RESOURCE}`, `%{HOST}`,
 *   `%{ENV:VAR}` or a literal name); {@link applicationGroupName} turns one into the interpreter
 *   name for a request.
 * - Times are whole seconds; `0` disables a limit, as in mod_wsgi.
 */

import type { ServerAccess, UnenforcedRestriction } from './access-plan.js';

/** Where a directive was written. */
export interface SourceLocation {
  /** The file as it was named (the main file resolved to an absolute path; includes absolute). */
  readonly file: string;
  /** The 1-based line the directive starts on. */
  readonly line: number;
}

/** Something pyhost accepted but will not do as Apache/mod_wsgi would. */
export interface ConfigWarning extends SourceLocation {
  readonly message: string;
}

/** An Apache directive pyhost does not need (LoadModule, Require, Options, LogLevel, ...). */
export interface IgnoredDirective extends SourceLocation {
  /** The directive name as first written. Each name is listed once, at its first occurrence. */
  readonly name: string;
}

/** An address and port to listen on. */
export interface Listener extends SourceLocation {
  /** `*` for every address, else an IP address (IPv6 without brackets) or a host name. */
  readonly address: string;
  readonly port: number;
  /** The optional protocol argument of `Listen` (`http`, `https`). */
  readonly protocol?: string;
  /**
   * `Listen` for a listener from a `Listen` directive; `VirtualHost` for a port only a
   * `<VirtualHost>` names (Apache would not listen there; pyhost does, with a warning).
   */
  readonly from: 'Listen' | 'VirtualHost';
}

/** The settings of one WSGI application, each resolved with Apache's scope rules. */
export interface WsgiSettings {
  /** WSGIProcessGroup / `process-group=`: a daemon group name, `''` for embedded (the default). */
  readonly processGroup: string;
  /** WSGIApplicationGroup / `application-group=`, raw; default `%{RESOURCE}`. */
  readonly applicationGroup: string;
  /** WSGICallableObject / `callable-object=`; default `application`. */
  readonly callableObject: string;
  /** WSGIPassAuthorization / `pass-authorization=`: pass the Authorization header; default off. */
  readonly passAuthorization: boolean;
  /** WSGIScriptReloading: reload the script when its mtime changes; default on. */
  readonly scriptReloading: boolean;
  /** WSGIChunkedRequest: accept chunked request bodies (else 411 Length Required); default off. */
  readonly chunkedRequest: boolean;
  /**
   * WSGIMapHEADToGET: `On` gives the application HEAD requests as GET (the body is not sent);
   * `Off` and `Auto` (the default: mod_wsgi maps only when Apache output filters want the body,
   * and pyhost has none) leave them HEAD.
   */
  readonly mapHeadToGet: 'On' | 'Off' | 'Auto';
}

/** The name of one setting of {@link WsgiSettings}. */
export type SettingName = keyof WsgiSettings;

/** The defaults mod_wsgi uses when nothing sets a value. */
export const DEFAULT_SETTINGS: WsgiSettings = Object.freeze({
  processGroup: '',
  applicationGroup: '%{RESOURCE}',
  callableObject: 'application',
  passAuthorization: false,
  scriptReloading: true,
  chunkedRequest: false,
  mapHeadToGet: 'Auto',
});

/** A value set by a directive, with the directive's location. */
export interface SettingValue<T> extends SourceLocation {
  readonly value: T;
}

/** The settings one scope sets (the rest it leaves to outer scopes). */
export type PartialSettings = { readonly [K in SettingName]?: SettingValue<WsgiSettings[K]> };

/**
 * How a section matches: a literal prefix/path, a shell wildcard (`*`, `?`, `[...]`, not crossing
 * `/`), or a regular expression (from the `...Match` forms or `~`).
 */
export type Matcher =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'wildcard'; readonly pattern: string }
  | { readonly kind: 'regex'; readonly source: string; readonly flags: string };

/** The scope a layer of settings comes from. */
export type LayerScope = 'server' | 'virtualhost' | 'directory' | 'files' | 'location' | 'alias';

/**
 * One scope's contribution to a mount's settings. A mount's layers are listed from weakest to
 * strongest in Apache's merge order: main server, virtual host, `<Directory>` (shortest path
 * first), `<DirectoryMatch>`, `<Files>`/`<FilesMatch>`, `<Location>`/`<LocationMatch>` (in file
 * order), then the options of the WSGIScriptAlias itself.
 */
export interface SettingsLayer extends SourceLocation {
  readonly scope: LayerScope;
  /** A human-readable name, e.g. `<Location /admin>` or `<VirtualHost *:80> www.example.com`. */
  readonly label: string;
  /** For location layers: the request URL must match this. */
  readonly url?: Matcher;
  /** For directory and files layers: the script's path must be inside (or match) these. */
  readonly directories?: readonly Matcher[];
  /** For files layers: the script's file name must match all of these. */
  readonly files?: readonly Matcher[];
  /**
   * Whether the layer applies to every request the mount serves (true) or only to some URLs or
   * scripts below it (false: resolve per request with {@link settingsFor}).
   */
  readonly always: boolean;
  readonly settings: PartialSettings;
}

/** The options written on a WSGIScriptAlias / WSGIScriptAliasMatch line. */
export interface MountOptions {
  /** `process-group=`; `%{GLOBAL}` is stored as `''` (embedded). */
  readonly processGroup?: string;
  /** `application-group=`, raw (`%{GLOBAL}` kept as written). */
  readonly applicationGroup?: string;
  readonly callableObject?: string;
  readonly passAuthorization?: boolean;
}

/**
 * A WSGI application mounted by WSGIScriptAlias (a URL prefix, matched segment-wise) or
 * WSGIScriptAliasMatch (a regular expression on the URL). mod_wsgi tries a server's mounts in
 * order and the first match wins; a virtual host's own mounts come before the main server's.
 * Static `Alias`es are tried before any mount (mod_alias runs before mod_wsgi).
 */
export interface Mount extends SourceLocation {
  readonly directive: 'WSGIScriptAlias' | 'WSGIScriptAliasMatch';
  /** The URL prefix (WSGIScriptAlias) or the regular expression source (WSGIScriptAliasMatch). */
  readonly url: string;
  /** For WSGIScriptAliasMatch: the compiled form of `url`. */
  readonly regex?: { readonly source: string; readonly flags: string };
  /**
   * The script path (absolute; a relative path is resolved against the ServerRoot). For
   * WSGIScriptAliasMatch it may hold `$1`..`$9` back-references; ending in `/` it names a
   * directory of scripts.
   */
  readonly script: string;
  readonly options: MountOptions;
  /** The effective settings for a request to the mount's own URL (see {@link variesByUrl}). */
  readonly settings: WsgiSettings;
  /** Where each effective setting comes from: a layer label with file:line, or `default`. */
  readonly origins: { readonly [K in SettingName]: string };
  /** Every scope that may set this mount's settings, weakest first (for {@link settingsFor}). */
  readonly layers: readonly SettingsLayer[];
  /** True when some layer applies only to part of the mount's URLs or scripts. */
  readonly variesByUrl: boolean;
  /** Defined at main-server level and inherited by this virtual host. */
  readonly inherited: boolean;
  /**
   * Both `process-group=` and `application-group=` are given (literal values, no `$` in a
   * WSGIScriptAliasMatch script): mod_wsgi loads the script when the process starts.
   */
  readonly preload: boolean;
}

/** A static `Alias` / `AliasMatch` (mod_alias): URLs served from files. */
export interface StaticAlias extends SourceLocation {
  readonly directive: 'Alias' | 'AliasMatch';
  /** The URL prefix (segment-wise match; a trailing `/` must be present in the URL) or regex. */
  readonly url: string;
  readonly regex?: { readonly source: string; readonly flags: string };
  /** The file or directory (AliasMatch: may hold `$1`..`$9`). */
  readonly path: string;
  readonly inherited: boolean;
}

/** A `WSGIImportScript` (or a preloaded mount): a script loaded when a process starts. */
export interface ImportScript extends SourceLocation {
  readonly script: string;
  /** `''` for embedded. */
  readonly processGroup: string;
  /** Raw application group (`%{GLOBAL}` kept as written). */
  readonly applicationGroup: string;
}

/** Where a daemon process group was defined. */
export type DaemonScope =
  | { readonly kind: 'server' }
  | { readonly kind: 'virtualhost'; readonly serverName: string; readonly label: string; readonly file: string; readonly line: number };

/**
 * A `WSGIDaemonProcess` with mod_wsgi 4.9's defaults filled in. Names are unique server-wide.
 * A group defined inside a virtual host may only be used by virtual hosts with the same
 * ServerName; one defined at server level by any.
 */
export interface DaemonGroupPlan extends SourceLocation {
  readonly name: string;
  readonly definedIn: DaemonScope;
  /** `processes=`; default 1. */
  readonly processes: number;
  /** `processes=` was written: mod_wsgi then sets `wsgi.multiprocess` true even for 1. */
  readonly processesExplicit: boolean;
  /** `threads=` per process; default 15; 0 runs WSGIImportScript-only processes. */
  readonly threads: number;
  /** pyhost's `python=`: the Python executable (or version command) for this group. */
  readonly python?: string;
  /** `python-home=` (the venv, `sys.prefix`), else WSGIPythonHome. */
  readonly pythonHome?: string;
  /** Where {@link pythonHome} came from. */
  readonly pythonHomeFrom?: 'python-home' | 'WSGIPythonHome';
  /** `python-path=` split on `:` (added with `site.addsitedir`). WSGIPythonPath does not apply. */
  readonly pythonPath: readonly string[];
  /** `home=`: the working directory (default: the home of `user=` if given, else unchanged). */
  readonly home?: string;
  /** `user=` (default: Apache's User); mod_wsgi refuses root. */
  readonly user?: string;
  /** `group=` (default: Apache's Group). */
  readonly group?: string;
  /** `display-name=` (`%{GROUP}` means `(wsgi:NAME)`); default: no rename. */
  readonly displayName?: string;
  /** `lang=` (sets LANG). */
  readonly lang?: string;
  /** `locale=` (sets LC_ALL). */
  readonly locale?: string;
  /** `maximum-requests=`: recycle a process after this many requests; default 0 (never). */
  readonly maximumRequests: number;
  /** `restart-interval=`: recycle after this many seconds; default 0. */
  readonly restartInterval: number;
  /** `inactivity-timeout=`: restart when idle this long; default 0. */
  readonly inactivityTimeout: number;
  /** `request-timeout=`: restart when a request runs this long; default 0. */
  readonly requestTimeout: number;
  /** `deadlock-timeout=`: restart when the GIL is stuck this long; default 300. */
  readonly deadlockTimeout: number;
  /** `graceful-timeout=`: wait this long for idle before a recycle; default 15. */
  readonly gracefulTimeout: number;
  /** `shutdown-timeout=`: force exit after this long; default 5. */
  readonly shutdownTimeout: number;
  /** `startup-timeout=`: restart when the script has not loaded after this long; default 0. */
  readonly startupTimeout: number;
  /** `queue-timeout=`: fail a request (504) that waited this long for a process; default 0. */
  readonly queueTimeout: number;
  /** `socket-timeout=`: I/O timeout with the daemon; default Apache's `Timeout` (60). */
  readonly socketTimeout: number;
  /** Options mod_wsgi documents that pyhost accepts but does not implement (each also a warning). */
  readonly unimplemented: Readonly<Record<string, string>>;
}

/** What the main server and every virtual host share. */
export interface ServerPlan extends SourceLocation {
  /** ServerName (host only), else the main server's, else the system host name. */
  readonly serverName: string;
  /** Where {@link serverName} came from. */
  readonly serverNameFrom: 'ServerName' | 'main server' | 'system';
  /** The port of `ServerName host:port`, if given. */
  readonly serverNamePort?: number;
  /** ServerAlias names (may contain wildcards). */
  readonly serverAliases: readonly string[];
  /** Mounts in the order mod_wsgi tries them. */
  readonly mounts: readonly Mount[];
  /** Static aliases in the order mod_alias tries them. */
  readonly aliases: readonly StaticAlias[];
  /** Access control (Require, Order/Allow/Deny, AuthType, auth hooks) of its sections. */
  readonly access: ServerAccess;
}

/** One address of a `<VirtualHost>`. */
export interface VirtualHostAddress {
  /** `*` (also for `_default_`), an IP address (IPv6 without brackets) or a host name. */
  readonly address: string;
  /** The port, or `*` when the address names none (any port). */
  readonly port: number | '*';
  /** The first virtual host for this address:port answers requests no ServerName matches. */
  readonly isDefault: boolean;
}

/** A `<VirtualHost>`: name-based hosts on one address:port are told apart by the Host header. */
export interface VirtualHostPlan extends ServerPlan {
  /** The first address (most virtual hosts have one). */
  readonly address: string;
  readonly port: number | '*';
  readonly isDefault: boolean;
  readonly addresses: readonly VirtualHostAddress[];
}

/**
 * Everything a configuration file describes. Requests arriving on a listener that no virtual
 * host address covers are served by {@link mainServer}.
 */
export interface SitePlan {
  /** The main configuration file (absolute). */
  readonly file: string;
  /** Every file read, in order. */
  readonly files: readonly string[];
  readonly serverRoot: string;
  readonly listeners: readonly Listener[];
  /** The main server: its port is that of the first listener (or ServerName's port). */
  readonly mainServer: ServerPlan & { readonly port?: number };
  readonly virtualHosts: readonly VirtualHostPlan[];
  readonly daemonGroups: readonly DaemonGroupPlan[];
  /** WSGIImportScript lines and preloaded mounts. */
  readonly importScripts: readonly ImportScript[];
  /** WSGIRestrictEmbedded On: no Python in the serving process; embedded mounts answer 500. */
  readonly restrictEmbedded: boolean;
  /**
   * Interpreter-wide settings for every Python the site starts (embedded and daemon processes):
   * WSGIPythonOptimize, and the environment variables CPython reads at start for
   * WSGIPythonHashSeed (PYTHONHASHSEED), WSGIDontWriteBytecode (PYTHONDONTWRITEBYTECODE) and
   * WSGIPythonWarnings (PYTHONWARNINGS), as mod_wsgi sets them before initialising Python.
   */
  readonly interpreter: { readonly optimize?: number; readonly environment: Readonly<Record<string, string>> };
  /** WSGIPerInterpreterGIL On (mod_wsgi 6): sub-interpreter groups get their own GIL (Python 3.12+). */
  readonly perInterpreterGil: boolean;
  /** WSGIPythonHome: the venv of embedded mode, and of daemon groups without `python-home=`. */
  readonly pythonHome?: string;
  /** WSGIPythonPath split on `:` (embedded mode only). */
  readonly pythonPath: readonly string[];
  /** Apache's `Timeout` in seconds (default 60). */
  readonly timeout: number;
  readonly warnings: readonly ConfigWarning[];
  readonly ignored: readonly IgnoredDirective[];
  /**
   * Access restrictions pyhost does not enforce (Require expr, `<If>` around Require, unknown
   * providers, `.htaccess` files AllowOverride lets restrict access, ...). Serving refuses a plan
   * that has any, unless told to leave them off.
   */
  readonly unenforced: readonly UnenforcedRestriction[];
}
