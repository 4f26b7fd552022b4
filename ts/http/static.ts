/**
 * Static files served by Node, for `--url-alias URL PATH` and Apache `Alias` (STATIC, MEDIA):
 * GET and HEAD, Content-Type by extension, Last-Modified/ETag with 304s, never outside the
 * aliased directory.
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { canonicalMountPoint, decodePath, normalizePath, splitMount } from './paths.js';

export const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8', '.csv': 'text/csv; charset=utf-8', '.xml': 'application/xml',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif',
  '.webp': 'image/webp', '.ico': 'image/vnd.microsoft.icon', '.pdf': 'application/pdf', '.zip': 'application/zip',
  '.woff': 'font/woff', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.map': 'application/json', '.wasm': 'application/wasm',
};

export function contentType(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export type StaticHandler = ((req: IncomingMessage, res: ServerResponse, next?: () => void) => void) & { urlPrefix: string };

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) + 1, ...extra });
  res.end(text + '\n');
}

/** Serves `target` (a directory, or a single file) at `urlPrefix`. */
export function staticAlias(urlPrefix: string, target: string): StaticHandler {
  const prefix = canonicalMountPoint(urlPrefix);
  const root = path.resolve(target);
  const handler = ((req: IncomingMessage, res: ServerResponse, next?: () => void) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const decoded = decodePath(q < 0 ? url : url.slice(0, q));
    const split = decoded === undefined ? undefined : splitMount(prefix, normalizePath(decoded));
    if (!split) return next ? next() : plain(res, 404, 'Not Found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
    // The decoded path is latin-1 bytes; file names are UTF-8.
    const rel = Buffer.from(split.pathInfo, 'latin1').toString('utf8');
    const file = path.join(root, rel);
    if (file !== root && !file.startsWith(root + path.sep)) return plain(res, 403, 'Forbidden');
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) return plain(res, 404, 'Not Found');
      const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
      const lastModified = st.mtime.toUTCString();
      if (req.headers['if-none-match'] === etag ||
          (req.headers['if-modified-since'] && Date.parse(req.headers['if-modified-since']) >= Math.floor(st.mtimeMs / 1000) * 1000)) {
        res.writeHead(304, { ETag: etag, 'Last-Modified': lastModified });
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': contentType(file), 'Content-Length': st.size, ETag: etag, 'Last-Modified': lastModified });
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
    });
  }) as StaticHandler;
  handler.urlPrefix = prefix;
  return handler;
}
