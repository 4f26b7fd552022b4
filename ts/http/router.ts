/**
 * Routes a request to the handler with the longest matching URL prefix (mounts and static
 * aliases alike), as Apache resolves Alias and WSGIScriptAlias; 404 when none matches.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodePath, normalizePath, normalizeTarget, splitMount } from './paths.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

export interface Route {
  /** Canonical prefix ('' for the root). */
  prefix: string;
  handler: Handler;
}

export function createRouter(routes: Route[]): Handler {
  const sorted = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  return (req, res) => {
    if (!normalizeTarget(req, res)) return;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const decoded = decodePath(q < 0 ? url : url.slice(0, q));
    if (decoded !== undefined) {
      const p = normalizePath(decoded);
      for (const r of sorted) {
        if (splitMount(r.prefix, p)) return r.handler(req, res);
      }
    }
    const body = 'Not Found\n';
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length });
    res.end(body);
  };
}
