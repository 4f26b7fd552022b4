import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * URL paths as WSGI sees them: percent-decoded to bytes held in a latin-1 string (PEP 3333),
 * normalised as Apache does (merged slashes, dot segments resolved), and split into
 * SCRIPT_NAME and PATH_INFO by a mount point as WSGIScriptAlias does.
 */

/**
 * Percent-decodes a raw path into a latin-1 string (one char per byte). Returns undefined for
 * paths Apache refuses: an encoded slash (%2F, AllowEncodedSlashes Off) or NUL, or a bad escape.
 */
export function decodePath(raw: string): string | undefined {
  if (raw.indexOf('%') < 0) return raw;
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const c = raw.charCodeAt(i);
    if (c !== 0x25) {
      out += raw[i++];
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
    const byte = parseInt(hex, 16);
    if (byte === 0x2f || byte === 0) return undefined;
    out += String.fromCharCode(byte);
    i += 3;
  }
  return out;
}

/** The request target as received, when normalizeTarget rewrote it (REQUEST_URI keeps it). */
export const ORIGINAL_TARGET = Symbol('pyhost.originalTarget');
export type TargetRequest = IncomingMessage & { [ORIGINAL_TARGET]?: string };

/**
 * Brings a request target to origin form before routing: an absolute-form target
 * (`GET http://host:81/path`) becomes its path, and its authority replaces the Host header, as
 * Apache does; a target with a fragment (`#`) is refused with 400, as Apache does. Returns false
 * when the response was sent.
 */
export function normalizeTarget(req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url ?? '/';
  if (url.includes('#')) {
    const body = 'Bad Request\n';
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, Connection: 'close' });
    res.end(body);
    return false;
  }
  const m = /^https?:\/\/([^/?]*)([^]*)$/i.exec(url);
  if (!m) return true;
  const authority = m[1];
  (req as TargetRequest)[ORIGINAL_TARGET] = url;
  req.url = m[2] === '' ? '/' : m[2].startsWith('/') ? m[2] : '/' + m[2];
  const raw = req.rawHeaders;
  let found = false;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'host') {
      raw[i + 1] = authority;
      found = true;
    }
  }
  if (!found) raw.push('Host', authority);
  req.headers.host = authority;
  return true;
}

/** Merges repeated slashes and resolves `.` and `..` segments (never above the root). */
export function normalizePath(path: string): string {
  if (path.indexOf('//') < 0 && path.indexOf('/.') < 0) return path;
  const parts = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i];
    if (p === '' && i < parts.length - 1) continue;
    if (p === '.') {
      if (i === parts.length - 1) out.push('');
      continue;
    }
    if (p === '..') {
      out.pop();
      if (i === parts.length - 1) out.push('');
      continue;
    }
    out.push(p);
  }
  return '/' + out.join('/');
}

/** A mount point in canonical form: leading slash, no trailing slash (the root is ''). */
export function canonicalMountPoint(mountPoint: string): string {
  let m = mountPoint.trim();
  if (!m.startsWith('/')) m = '/' + m;
  while (m.endsWith('/')) m = m.slice(0, -1);
  return m;
}

/**
 * Splits a decoded, normalised path at a canonical mount point: `/app` serves `/app` and
 * `/app/...` (not `/appx`); the root mount serves everything with an empty SCRIPT_NAME.
 */
export function splitMount(mount: string, path: string): { scriptName: string; pathInfo: string } | undefined {
  if (mount === '') return { scriptName: '', pathInfo: path };
  if (!path.startsWith(mount)) return undefined;
  if (path.length === mount.length) return { scriptName: mount, pathInfo: '' };
  if (path.charCodeAt(mount.length) !== 0x2f) return undefined;
  return { scriptName: mount, pathInfo: path.slice(mount.length) };
}
