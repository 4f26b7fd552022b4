/**
 * Application group names as mod_wsgi 4.9 computes them from WSGIApplicationGroup values
 * (docs/mod_wsgi-reference.md, section 1): `%{GLOBAL}` (the main interpreter, reported as ''),
 * `%{SERVER}` (`host[:port]`), `%{RESOURCE}` (`host[:port]|script_name`, the default, with the
 * script name lower-cased), `%{ENV:NAME}` (the literal text when unset), or a literal name. The
 * port is the request's (Host header, else 80) and is left out when it is 80 or 443.
 */
import { GLOBAL_GROUP } from '../group.js';

export interface GroupNameContext {
  /** The server name: the virtual host's ServerName, else the Host header's name. */
  host: string;
  /** The request's port: the Host header's, else 80 (Apache's SERVER_PORT). */
  port: number;
  /** SCRIPT_NAME of the mount. */
  scriptName: string;
  /** Environment for %{ENV:NAME}. */
  env?: Record<string, string | undefined>;
}

/** `host` with `:port` unless the port is the scheme's default (80 or 443). */
export function serverGroupName(host: string, port: number): string {
  return port === 80 || port === 443 ? host : `${host}:${port}`;
}

/** Whether a WSGIApplicationGroup value depends on the request (host, port). */
export function isPerRequestGroup(spec: string): boolean {
  return spec === '%{RESOURCE}' || spec === '%{SERVER}';
}

/**
 * The engine group name for a WSGIApplicationGroup value (`%{GLOBAL}` stays `%{GLOBAL}`, the main
 * interpreter's group).
 */
export function resolveGroupName(spec: string, ctx: GroupNameContext): string {
  if (spec === GLOBAL_GROUP) return GLOBAL_GROUP;
  if (spec === '%{SERVER}') return serverGroupName(ctx.host, ctx.port);
  if (spec === '%{RESOURCE}') return `${serverGroupName(ctx.host, ctx.port)}|${ctx.scriptName.toLowerCase()}`;
  const env = /^%\{ENV:([^}]+)\}$/.exec(spec);
  if (env) {
    const v = (ctx.env ?? process.env)[env[1]];
    if (v === undefined) return spec;
    // The value is expanded again: %{GLOBAL} in it means the main interpreter.
    return v === '' || v === GLOBAL_GROUP ? GLOBAL_GROUP : v;
  }
  return spec;
}

/** The value environ reports as mod_wsgi.application_group ('' for the main interpreter). */
export function reportedGroupName(name: string): string {
  return name === GLOBAL_GROUP ? '' : name;
}
