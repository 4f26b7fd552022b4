/**
 * The routes of one server (the main server or a virtual host) of a site plan: static aliases
 * first (mod_alias runs before mod_wsgi), then WSGI mounts in order, the first match winning;
 * SCRIPT_NAME and PATH_INFO as mod_wsgi computes them for WSGIScriptAlias and
 * WSGIScriptAliasMatch.
 */
import { statusForError } from '../scheduler/index.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { aliasPrefixLength } from '../config/match.js';
import type { Mount, ServerPlan, StaticAlias } from '../config/plan.js';
import { settingsFor } from '../config/resolve.js';
import { ROUTE, type MountHandler, type RoutedRequest } from '../http/mount.js';
import { canonicalMountPoint, decodePath, normalizePath, splitMount } from '../http/paths.js';
import { staticAlias, type StaticHandler } from '../http/static.js';
import type { AccessGate } from './access-gate.js';

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

/** The file a static alias maps a URL to (the alias target plus the rest of the path, as mod_alias). */
function aliasFile(urlPrefix: string, target: string, uri: string): string | undefined {
  const split = splitMount(canonicalMountPoint(urlPrefix), uri);
  if (!split) return undefined;
  return path.join(path.resolve(target), Buffer.from(split.pathInfo, 'latin1').toString('utf8'));
}

/** Where a request was routed: what access control looks at, and how to serve it. */
interface Routed {
  readonly filename?: string;
  readonly scriptName: string;
  readonly pathInfo: string;
  /** Serves the request (may throw: ERR_SCRIPT_NOT_FOUND and the like). */
  readonly serve: () => void;
}

/** Answers an error a route's handler threw: 404 for a missing script, else 500 (logged). */
export function answerRouteError(res: ServerResponse, err: unknown): void {
  const { status, reason } = statusForError((err as { code?: string }).code);
  const body = reason + '\n';
  if (status === 500) process.stderr.write(`[pyhost:error] ${(err as Error).message}\n`);
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length });
  res.end(body);
}

export class ServerRoutes {
  private readonly mounts: MountRoute[];
  private readonly aliases: { alias: StaticAlias; regex?: RegExp; handler?: StaticHandler }[];

  constructor(
    readonly server: ServerPlan,
    private readonly makeMount: MountFactory,
    private readonly gate?: AccessGate,
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
    const routed = this.route(req, res, uri);
    if (!this.gate?.active) return routed.serve();
    this.gate.run(req, res, { uri, ...routed }, routed.serve, (err) => answerRouteError(res, err));
  }

  /** The alias or mount for `uri` (static aliases first, then mounts in order), or 404. */
  private route(req: IncomingMessage, res: ServerResponse, uri: string): Routed {
    for (const a of this.aliases) {
      if (a.handler) {
        const n = aliasPrefixLength(uri, a.alias.url);
        if (n > 0) return { filename: aliasFile(a.alias.url, a.alias.path, uri), scriptName: uri, pathInfo: '', serve: () => a.handler!(req, res) };
      } else if (a.regex) {
        const m = a.regex.exec(uri);
        if (m) {
          const target = substitute(a.alias.path, m);
          return { filename: aliasFile(m[0], target, uri), scriptName: uri, pathInfo: '', serve: () => staticAlias(m[0], target)(req, res) };
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
          if (!seg) return { scriptName: uri, pathInfo: '', serve: () => notFound(res) };
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
          return { filename: script + pathInfo, scriptName, pathInfo: '', serve: () => notFound(res) };
        }
      }
      const route = { scriptName, pathInfo };
      return {
        filename: script, scriptName, pathInfo,
        serve: () => {
          const settings = r.mount.variesByUrl ? settingsFor(r.mount, uri, script).settings : r.mount.settings;
          // WSGIMapHEADToGET On: the application sees GET; Node still sends no body for the HEAD request.
          if (settings.mapHeadToGet === 'On' && req.method === 'HEAD') req.method = 'GET';
          (req as RoutedRequest)[ROUTE] = route;
          this.handlerFor(r, script, settings)(req, res);
        },
      };
    }
    return { scriptName: uri, pathInfo: '', serve: () => notFound(res) };
  }
}
