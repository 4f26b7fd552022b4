/**
 * The routes of one server (the main server or a virtual host) of a site plan: static aliases
 * first (mod_alias runs before mod_wsgi), then WSGI mounts in order, the first match winning;
 * SCRIPT_NAME and PATH_INFO as mod_wsgi computes them for WSGIScriptAlias and
 * WSGIScriptAliasMatch.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { aliasPrefixLength } from '../config/match.js';
import type { Mount, ServerPlan, StaticAlias } from '../config/plan.js';
import { settingsFor } from '../config/resolve.js';
import { ROUTE, type MountHandler, type RoutedRequest } from '../http/mount.js';
import { decodePath, normalizePath } from '../http/paths.js';
import { staticAlias, type StaticHandler } from '../http/static.js';

export type MountFactory = (mount: Mount, script: string, settings: Mount['settings']) => MountHandler;

interface MountRoute {
  mount: Mount;
  regex?: RegExp;
  handlers: Map<string, MountHandler>;
}

function substitute(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(\d)/g, (_, d: string) => m[Number(d)] ?? '');
}

function notFound(res: ServerResponse): void {
  const body = 'Not Found\n';
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length });
  res.end(body);
}

export class ServerRoutes {
  private readonly mounts: MountRoute[];
  private readonly aliases: { alias: StaticAlias; regex?: RegExp; handler?: StaticHandler }[];

  constructor(
    readonly server: ServerPlan,
    private readonly makeMount: MountFactory,
  ) {
    this.mounts = server.mounts.map((m) => ({
      mount: m,
      regex: m.regex ? new RegExp(m.regex.source, m.regex.flags) : undefined,
      handlers: new Map(),
    }));
    this.aliases = server.aliases.map((a) => ({
      alias: a,
      regex: a.regex ? new RegExp(a.regex.source, a.regex.flags) : undefined,
      handler: a.regex ? undefined : staticAlias(a.url, a.path),
    }));
  }

  /** Every handler made so far (for closing). */
  handlers(): MountHandler[] {
    return this.mounts.flatMap((r) => [...r.handlers.values()]);
  }

  /** Creates the handlers that do not depend on the request (preloads happen here). */
  prepare(): void {
    for (const r of this.mounts) {
      if (!r.regex && !r.mount.script.endsWith('/') && !r.mount.variesByUrl) this.handlerFor(r, r.mount.script, r.mount.settings);
    }
  }

  private handlerFor(r: MountRoute, script: string, settings: Mount['settings']): MountHandler {
    const key = `${script}\0${JSON.stringify(settings)}`;
    let h = r.handlers.get(key);
    if (!h) {
      h = this.makeMount(r.mount, script, settings);
      r.handlers.set(key, h);
    }
    return h;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const decoded = decodePath(q < 0 ? url : url.slice(0, q));
    if (decoded === undefined) return notFound(res);
    const uri = normalizePath(decoded);
    for (const a of this.aliases) {
      if (a.handler) {
        if (aliasPrefixLength(uri, a.alias.url) > 0) return a.handler(req, res);
      } else if (a.regex) {
        const m = a.regex.exec(uri);
        if (m) {
          const target = substitute(a.alias.path, m);
          return staticAlias(m[0], target)(req, res);
        }
      }
    }
    for (const r of this.mounts) {
      let scriptName: string;
      let script = r.mount.script;
      if (r.regex) {
        const m = r.regex.exec(uri);
        if (!m || m.index !== 0) continue;
        scriptName = m[0];
        script = substitute(script, m);
      } else {
        const n = aliasPrefixLength(uri, r.mount.url);
        if (n === 0 && r.mount.url !== '') continue;
        scriptName = uri.slice(0, n);
        if (script.endsWith('/')) {
          // A directory of scripts: the next path segment names the script.
          const rest = uri.slice(n).replace(/^\/+/, '');
          const seg = rest.split('/')[0];
          if (!seg) return notFound(res);
          script = path.join(script, seg);
          scriptName = uri.slice(0, n + (uri.slice(n).length - rest.length) + seg.length);
        }
      }
      let pathInfo = uri.slice(scriptName.length);
      if (!r.regex && scriptName.endsWith('/') && !r.mount.script.endsWith('/')) {
        if (scriptName === '/') {
          // The root mount: SCRIPT_NAME '' and the whole path in PATH_INFO.
          scriptName = '';
          pathInfo = uri;
        } else if (pathInfo !== '') {
          // "WSGIScriptAlias /app/ script": as with Alias, the rest of the URL would be appended
          // to the script's file name, which does not exist (mod_wsgi answers 404).
          return notFound(res);
        }
      }
      const settings = r.mount.variesByUrl ? settingsFor(r.mount, uri, script).settings : r.mount.settings;
      (req as RoutedRequest)[ROUTE] = { scriptName, pathInfo };
      return this.handlerFor(r, script, settings)(req, res);
    }
    notFound(res);
  }
}
