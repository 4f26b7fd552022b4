/**
 * HTTP clients for the gateway tests: a normal client (node:http, one connection per request, never
 * rejects on a truncated response but says so) and a raw-socket client (node:net) for malformed
 * requests, pipelining and truncation checks, with a strict HTTP/1.1 response parser.
 */
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';

export interface HttpResponse {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** The body arrived whole (Content-Length reached, or the terminating chunk). */
  complete: boolean;
  /** An error during the body (e.g. the server cut the connection). */
  error?: Error;
  text(): string;
  json<T = any>(): T;
}

export interface RequestOptions {
  method?: string;
  /** Request headers; a `[name, value][]` list keeps duplicates and order. */
  headers?: http.OutgoingHttpHeaders | [string, string][];
  /** Body: a whole buffer/string (sent with Content-Length unless `chunked`), or a stream (chunked). */
  body?: string | Buffer | Readable | AsyncIterable<Buffer>;
  /** Send a buffer/string body with Transfer-Encoding: chunked, in pieces of this many bytes. */
  chunked?: number;
  /** Give up (and destroy the socket) after this many ms. Default 30000. */
  timeoutMs?: number;
}

/** One request on its own connection. Resolves on a complete or truncated response. */
export function request(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const { method = 'GET', body, chunked, timeoutMs = 30000 } = options;
  const u = new URL(url);
  let headers: http.OutgoingHttpHeaders | string[] = {};
  if (Array.isArray(options.headers)) headers = options.headers.flat();
  else if (options.headers) headers = { ...options.headers };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: false, setHost: !hasHeader(headers, 'host') },
      (res) => {
        const chunks: Buffer[] = [];
        let error: Error | undefined;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => (error = e));
        res.on('aborted', () => (error ??= new Error('aborted')));
        res.on('close', () => {
          clearTimeout(timer);
          const buf = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? '',
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: buf,
            complete: res.complete,
            error,
            text: () => buf.toString('utf8'),
            json: () => JSON.parse(buf.toString('utf8')),
          });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`request ${method} ${url} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (body === undefined) {
      req.end();
    } else if (typeof body === 'string' || Buffer.isBuffer(body)) {
      const buf = Buffer.from(body);
      if (chunked) {
        req.setHeader('Transfer-Encoding', 'chunked');
        for (let i = 0; i < buf.length; i += chunked) req.write(buf.subarray(i, i + chunked));
        req.end();
      } else {
        if (!hasHeader(headers, 'content-length')) req.setHeader('Content-Length', buf.length);
        req.end(buf);
      }
    } else {
      const stream = body instanceof Readable ? body : Readable.from(body);
      stream.on('error', (e) => req.destroy(e));
      stream.pipe(req);
    }
  });
}

function hasHeader(headers: http.OutgoingHttpHeaders | string[], name: string): boolean {
  if (Array.isArray(headers)) return headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === name);
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}

export interface RawResult {
  /** Every byte the server sent. */
  data: Buffer;
  /** The server closed (or reset) the connection. */
  closed: boolean;
  /** We gave up waiting (the connection was still open). */
  timedOut: boolean;
}

/**
 * Writes `payload` (one or more pieces, with optional pauses between them) on a fresh connection
 * and collects the reply until the server closes the connection or `timeoutMs` passes.
 * With `until`, stops as soon as the collected bytes satisfy it.
 */
export function rawRequest(
  port: number,
  payload: string | Buffer | (string | Buffer | number)[],
  options: { timeoutMs?: number; until?: (data: Buffer) => boolean; localAddress?: string } = {},
): Promise<RawResult> {
  const { timeoutMs = 10000, until, localAddress } = options;
  const pieces = Array.isArray(payload) ? payload : [payload];
  return new Promise((resolve, reject) => {
    // localAddress: another loopback address (127.0.0.2) makes the client look like another host.
    const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean, timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks), closed, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), timeoutMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (until && until(Buffer.concat(chunks))) finish(false, false);
    });
    socket.on('end', () => finish(true, false));
    socket.on('close', () => finish(true, false));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') finish(true, false);
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(e);
      }
    });
    socket.on('connect', async () => {
      for (const p of pieces) {
        if (done) return;
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else socket.write(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
      }
    });
  });
}

export interface ParsedResponse {
  httpVersion: string;
  status: number;
  reason: string;
  /** Header lines in order, names as sent. */
  headers: [string, string][];
  /** Body bytes (chunked framing removed). */
  body: Buffer;
  chunked: boolean;
  /** Length from Content-Length, or -1. */
  contentLength: number;
  /** The body is whole: Content-Length bytes, the 0-chunk, or (neither) ended by close. */
  complete: boolean;
  /** Bytes after this response (pipelined responses). */
  rest: Buffer;
  header(name: string): string | undefined;
  headerAll(name: string): string[];
}

/**
 * Parses one HTTP/1.x response from raw bytes. `closed`: the connection ended after these bytes
 * (only then is a body without Content-Length or chunking complete). `head`: the request was
 * HEAD (no body follows whatever the headers say). Throws if the head itself is malformed.
 */
export function parseResponse(data: Buffer, opts: { closed?: boolean; head?: boolean } = {}): ParsedResponse {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`incomplete or malformed response head: ${JSON.stringify(data.subarray(0, 300).toString('latin1'))}`);
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^(HTTP\/1\.[01]) (\d{3}) ?(.*)$/.exec(lines[0]);
  if (!m) throw new Error(`malformed status line: ${JSON.stringify(lines[0])}`);
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const hm = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!hm) throw new Error(`malformed header line: ${JSON.stringify(line)}`);
    headers.push([hm[1], hm[2]]);
  }
  const headerAll = (name: string) => headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  const header = (name: string) => headerAll(name)[0];
  const status = Number(m[2]);
  const te = header('transfer-encoding');
  const chunked = !!te && /chunked/i.test(te);
  const cl = header('content-length');
  const contentLength = cl === undefined ? -1 : Number(cl);
  let pos = end + 4;
  let body: Buffer;
  let complete: boolean;
  let rest: Buffer;
  const noBody = opts.head || status === 204 || status === 304 || (status >= 100 && status < 200);
  if (noBody) {
    body = Buffer.alloc(0);
    complete = true;
    rest = data.subarray(pos);
  } else if (chunked) {
    const parts: Buffer[] = [];
    complete = false;
    for (;;) {
      const le = data.indexOf('\r\n', pos);
      if (le < 0) break;
      const sizeLine = data.subarray(pos, le).toString('latin1');
      const size = parseInt(sizeLine.split(';')[0].trim(), 16);
      if (!/^[0-9a-fA-F]+/.test(sizeLine) || Number.isNaN(size)) throw new Error(`malformed chunk size line: ${JSON.stringify(sizeLine)}`);
      if (size === 0) {
        // Trailers (none expected) end with an empty line.
        const tEnd = data.indexOf('\r\n', le + 2);
        if (tEnd === le + 2) {
          complete = true;
          pos = tEnd + 2;
        } else {
          pos = data.length;
        }
        break;
      }
      if (data.length < le + 2 + size) {
        parts.push(data.subarray(le + 2));
        pos = data.length;
        break;
      }
      parts.push(data.subarray(le + 2, le + 2 + size));
      if (data.subarray(le + 2 + size, le + 4 + size).toString('latin1') !== '\r\n') {
        if (data.length >= le + 4 + size) throw new Error('chunk not followed by CRLF');
        pos = data.length;
        break;
      }
      pos = le + 4 + size;
    }
    body = Buffer.concat(parts);
    rest = data.subarray(pos);
  } else if (contentLength >= 0) {
    body = data.subarray(pos, pos + contentLength);
    complete = body.length === contentLength;
    rest = data.subarray(pos + body.length);
  } else {
    body = data.subarray(pos);
    complete = !!opts.closed;
    rest = Buffer.alloc(0);
  }
  return { httpVersion: m[1], status, reason: m[3], headers, body, chunked, contentLength, complete, rest, header, headerAll };
}

/** A raw GET/HEAD/... request head (HTTP/1.1, Host 127.0.0.1:port, Connection: close unless given). */
export function rawHead(port: number, method: string, target: string, headers: [string, string][] = []): string {
  const lines = [`${method} ${target} HTTP/1.1`];
  if (!headers.some(([n]) => n.toLowerCase() === 'host')) lines.push(`Host: 127.0.0.1:${port}`);
  if (!headers.some(([n]) => n.toLowerCase() === 'connection')) lines.push('Connection: close');
  for (const [n, v] of headers) lines.push(`${n}: ${v}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Encodes `body` as chunked transfer coding in pieces of `size` bytes. */
export function chunkedBody(body: Buffer | string, size: number): Buffer {
  const buf = Buffer.from(body);
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) {
    const piece = buf.subarray(i, i + size);
    parts.push(Buffer.from(piece.length.toString(16) + '\r\n'), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}
