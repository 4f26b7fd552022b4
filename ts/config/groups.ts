/**
 * The names mod_wsgi gives application groups (interpreters) and process groups for a request,
 * from the raw values of WSGIApplicationGroup / WSGIProcessGroup (mod_wsgi 4.9's
 * `wsgi_application_group` and `wsgi_process_group`).
 */

/** What a group name depends on. */
export interface GroupContext {
  /** The ServerName of the virtual host (or main server) serving the request. */
  readonly serverName: string;
  /**
   * The port as Apache's `ap_get_server_port` reports it: the port of the Host header when it
   * names one, else the port the server is known by.
   */
  readonly port: number;
  /** The request's SCRIPT_NAME (the mount prefix without a trailing slash; `''` for `/`). */
  readonly scriptName: string;
  /** The host name of the Host header, for `%{HOST}` (defaults to serverName). */
  readonly host?: string;
  /** Variables for `%{ENV:NAME}` (mod_wsgi: request notes, SetEnv, then the process environment). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** `host` with `:port` appended unless the port is 80 or 443, as mod_wsgi does. */
export function hostWithPort(host: string, port: number): string {
  return port === 80 || port === 443 ? host : `${host}:${port}`;
}

/** The SCRIPT_NAME part of a `%{RESOURCE}` name: doubled slashes merged, lower-cased (mod_wsgi 4.9). */
export function resourceScriptName(scriptName: string): string {
  return scriptName.replace(/\/{2,}/g, '/').toLowerCase();
}

function expand(raw: string, ctx: GroupContext, resource: boolean, self: (v: string) => string): string {
  if (!raw.startsWith('%')) return raw;
  switch (raw) {
    case '%{GLOBAL}': return '';
    case '%{SERVER}': return hostWithPort(ctx.serverName, ctx.port);
    case '%{HOST}': return hostWithPort(ctx.host || ctx.serverName, ctx.port);
    case '%{RESOURCE}':
      if (resource) return `${hostWithPort(ctx.serverName, ctx.port)}|${resourceScriptName(ctx.scriptName)}`;
      return raw;
  }
  const env = /^%\{ENV:(.+)\}$/.exec(raw);
  if (env) {
    const value = ctx.env?.[env[1]!];
    if (value === undefined) return raw;
    if (value.startsWith('%') && !value.startsWith('%{ENV:')) return self(value);
    return value;
  }
  return raw;
}

/**
 * The application group (interpreter) name for a request: `''` for `%{GLOBAL}` (the main
 * interpreter), `host[:port]|script_name` for `%{RESOURCE}` (the default), `host[:port]` for
 * `%{SERVER}`, the Host header's host for `%{HOST}`, the variable's value for `%{ENV:NAME}`
 * (the raw text when unset, as mod_wsgi), anything else literally.
 */
export function applicationGroupName(raw: string | undefined, ctx: GroupContext): string {
  return expand(raw ?? '%{RESOURCE}', ctx, true, (v) => applicationGroupName(v, ctx));
}

/**
 * The process group name for a request: `''` (embedded) when unset or `%{GLOBAL}`; `%{RESOURCE}`,
 * `%{SERVER}`, `%{HOST}` and `%{ENV:NAME}` expand as for application groups.
 */
export function processGroupName(raw: string | undefined, ctx: GroupContext): string {
  if (raw === undefined || raw === '') return '';
  return expand(raw, ctx, true, (v) => processGroupName(v, ctx));
}

/** Whether a raw group value is computed per request (starts with `%`) rather than a literal name. */
export function isDynamicGroup(raw: string): boolean {
  return raw.startsWith('%');
}
