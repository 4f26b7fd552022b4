/**
 * The directives pyhost knows: where each may appear (Apache's contexts) and which mod_wsgi
 * directives exist but are not implemented. Names are compared in lower case.
 */

/**
 * Where a directive appears: `server` (outside every section), `vhost` (in a `<VirtualHost>`,
 * outside directory sections), `dir` (in `<Directory>`, `<Location>`, `<Files>` or their
 * `...Match` forms).
 */
export type Context = 'server' | 'vhost' | 'dir';

/** How pyhost treats a directive it recognises. */
export interface DirectiveSpec {
  /** The canonical spelling. */
  readonly name: string;
  /** The contexts it is allowed in. */
  readonly contexts: readonly Context[];
}

const spec = (name: string, ...contexts: Context[]): [string, DirectiveSpec] => [name.toLowerCase(), { name, contexts }];

/** RSRC_CONF: server config and virtual host. */
const RSRC: Context[] = ['server', 'vhost'];
/** ACCESS_CONF|RSRC_CONF and OR_FILEINFO: everywhere (pyhost reads no .htaccess files). */
const ANY: Context[] = ['server', 'vhost', 'dir'];

/** Directives pyhost implements, with the contexts mod_wsgi/Apache allow them in. */
export const HANDLED: ReadonlyMap<string, DirectiveSpec> = new Map([
  spec('WSGIScriptAlias', ...RSRC),
  spec('WSGIScriptAliasMatch', ...RSRC),
  spec('WSGIDaemonProcess', ...RSRC),
  spec('WSGIImportScript', ...RSRC),
  spec('WSGIProcessGroup', ...ANY),
  spec('WSGIApplicationGroup', ...ANY),
  spec('WSGICallableObject', ...ANY),
  spec('WSGIPassAuthorization', ...ANY),
  spec('WSGIScriptReloading', ...ANY),
  spec('WSGIChunkedRequest', ...ANY),
  spec('WSGIMapHEADToGET', ...ANY),
  spec('WSGIPythonOptimize', 'server'),
  spec('WSGIPythonHashSeed', 'server'),
  spec('WSGIDontWriteBytecode', 'server'),
  spec('WSGIPythonWarnings', 'server'),
  spec('WSGIPerInterpreterGIL', 'server'),
  spec('WSGIRestrictEmbedded', 'server'),
  spec('WSGIPythonHome', 'server'),
  spec('WSGIPythonPath', 'server'),
  spec('Alias', ...RSRC),
  spec('AliasMatch', ...RSRC),
  spec('Listen', 'server'),
  spec('ServerName', ...RSRC),
  spec('ServerAlias', 'vhost'),
  spec('Timeout', ...RSRC),
]);

/**
 * Directives of mod_wsgi (4.9 and later) that pyhost accepts but does not implement: each use is
 * a warning. Any other `WSGI*` name is an error, as Apache would refuse it.
 */
export const UNIMPLEMENTED_WSGI: ReadonlySet<string> = new Set([
  'WSGIAcceptMutex', 'WSGICaseSensitivity',
  'WSGIDestroyInterpreter', 'WSGIDispatchScript',
  'WSGIEnableSendfile', 'WSGIErrorOverride', 'WSGIFreeThreading', 'WSGIHandlerScript',
  'WSGIIgnoreActivity', 'WSGIInterpreterOptions', 'WSGILazyInitialization',
  'WSGINewRelicConfigFile', 'WSGINewRelicEnvironment', 'WSGIPassApacheRequest',
  'WSGIPy3kWarningFlag', 'WSGIPythonEggs',
  'WSGIRestrictProcess', 'WSGIRestrictSignal', 'WSGIRestrictStdin', 'WSGIRestrictStdout', 'WSGIServerMetrics',
  'WSGISlowRequests', 'WSGISocketPrefix', 'WSGISocketRotation', 'WSGISwitchInterval', 'WSGITelemetryOptions',
  'WSGITelemetryService', 'WSGITrustedProxies', 'WSGITrustedProxyHeaders',
  'WSGIVerboseDebugging',
].map((n) => n.toLowerCase()));

/** Sections pyhost interprets. */
export const SCOPE_SECTIONS: ReadonlySet<string> = new Set([
  'virtualhost', 'directory', 'directorymatch', 'location', 'locationmatch', 'files', 'filesmatch',
]);

/**
 * Apache sections pyhost does not evaluate (proxying, request-time conditions, provider
 * aliases): their content is ignored, a mod_wsgi directive inside one is an error because its
 * effect could not be reproduced, and an access restriction inside one is unenforced (see
 * config/access.ts).
 */
export const OPAQUE_SECTIONS: ReadonlySet<string> = new Set([
  'proxy', 'proxymatch', 'if', 'elseif', 'else', 'authnprovideralias', 'authzprovideralias',
]);

/** Names a context for messages. */
export function contextName(c: Context): string {
  return c === 'server' ? 'server level' : c === 'vhost' ? '<VirtualHost>' : 'a directory section';
}
