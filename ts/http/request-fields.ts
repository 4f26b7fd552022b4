/**
 * What WSGI needs to know about a Node request, read once: the CGI fields, the raw headers
 * joined for the core, and whether a body follows. Avoids `req.headers` (built lazily by Node).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface RequestFields {
  method: string;
  query: string;
  requestUri: string;
  /** The raw path (before '?'). */
  rawPath: string;
  protocol: string;
  scheme: 'http' | 'https';
  /** Host header without port (or the local address). */
  serverName: string;
  /** SERVER_PORT as Apache reports it (UseCanonicalName Off): the Host header's port, else 80. */
  serverPort: string;
  /** The same, as a number (for group names). */
  hostPort: number;
  /** The Host header named a port. */
  hostHasPort: boolean;
  localAddr: string;
  localPort: number;
  remoteAddr: string;
  remotePort: string;
  /** Raw headers as "name\nvalue\n..." (latin-1). */
  headers: string;
  /** Content-Length, or -1 (none / chunked). */
  contentLength: number;
  chunked: boolean;
  /** A body follows (Content-Length > 0 or chunked). */
  hasBody: boolean;
}

function stripV4Mapped(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.indexOf('.') > 0 ? addr.slice(7) : addr;
}

export function readRequestFields(req: IncomingMessage, url: string): RequestFields {
  const raw = req.rawHeaders;
  let host = '';
  let contentLength = -1;
  let chunked = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const len = name.length;
    if (len === 4 && name.toLowerCase() === 'host') host = raw[i + 1];
    else if (len === 14 && name.toLowerCase() === 'content-length') contentLength = Number(raw[i + 1]);
    else if (len === 17 && name.toLowerCase() === 'transfer-encoding') chunked = /chunked/i.test(raw[i + 1]);
  }
  const socket = req.socket;
  const localPort = socket.localPort ?? 0;
  let serverName = host;
  let hostPort = 80;
  if (host) {
    const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host);
    if (m) {
      serverName = m[1].toLowerCase();
      hostPort = m[2] ? Number(m[2]) : 80;
    }
  } else {
    serverName = stripV4Mapped(socket.localAddress);
  }
  const q = url.indexOf('?');
  return {
    method: req.method ?? 'GET',
    rawPath: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? '' : url.slice(q + 1),
    requestUri: url,
    protocol: `HTTP/${req.httpVersion}`,
    scheme: (socket as TLSSocket).encrypted ? 'https' : 'http',
    serverName,
    serverPort: String(hostPort),
    hostPort,
    hostHasPort: /:\d+$/.test(host),
    localAddr: stripV4Mapped(socket.localAddress),
    localPort,
    remoteAddr: stripV4Mapped(socket.remoteAddress),
    remotePort: String(socket.remotePort ?? ''),
    headers: raw.join('\n'),
    contentLength: Number.isFinite(contentLength) ? contentLength : -1,
    chunked,
    hasBody: chunked || contentLength > 0,
  };
}
