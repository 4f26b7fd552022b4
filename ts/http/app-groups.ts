/**
 * Application group names for a mount's requests, from WSGIApplicationGroup values
 * (`%{GLOBAL}`, `%{SERVER}`, `%{RESOURCE}`, `%{HOST}`, `%{ENV:NAME}` or a name), named as
 * mod_wsgi 4.9 names them (see config/groups.ts and docs/mod_wsgi-reference.md, section 1).
 * The engine calls the main interpreter's group `%{GLOBAL}`; environ reports it as ''.
 */
import { applicationGroupName } from '../config/groups.js';
import { GLOBAL_GROUP } from '../group.js';

export interface GroupNameContext {
  /** The server name: the virtual host's ServerName, else the Host header's name. */
  host: string;
  /** The request's port: the Host header's, else 80 (Apache's SERVER_PORT). */
  port: number;
  /** SCRIPT_NAME of the mount. */
  scriptName: string;
  /** The Host header's name (for %{HOST}), when it differs from `host`. */
  requestHost?: string;
  /** Environment for %{ENV:NAME} (default: the process environment). */
  env?: Record<string, string | undefined>;
}

/** Whether a WSGIApplicationGroup value depends on the request (server name, port, host). */
export function isPerRequestGroup(spec: string): boolean {
  return spec === '%{RESOURCE}' || spec === '%{SERVER}' || spec === '%{HOST}';
}

/** The engine group name for a WSGIApplicationGroup value (`%{GLOBAL}` for the main interpreter). */
export function resolveGroupName(spec: string, ctx: GroupNameContext): string {
  const name = applicationGroupName(spec, {
    serverName: ctx.host,
    port: ctx.port,
    scriptName: ctx.scriptName,
    host: ctx.requestHost ?? ctx.host,
    env: ctx.env ?? process.env,
  });
  return name === '' ? GLOBAL_GROUP : name;
}

/** The value environ reports as mod_wsgi.application_group ('' for the main interpreter). */
export function reportedGroupName(name: string): string {
  return name === GLOBAL_GROUP ? '' : name;
}
