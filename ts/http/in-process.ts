/**
 * A WSGI request without a socket: the same gateway as HTTP (environ, start_response, body and
 * response handling), the response collected in memory. For test clients (tenant.request) and the
 * gateway microbenchmark.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { reportedGroupName } from './app-groups.js';
import type { Backend, Exchange } from './backend.js';
import { CollectingWriter, type CollectedResponse } from './collecting-writer.js';
import type { RequestFields } from './request-fields.js';

export interface InProcessRequest {
  method?: string;
  /** Path with optional query string (default '/'). */
  path?: string;
  headers?: Record<string, string> | [string, string][];
  body?: string | Buffer;
}

/** Extras of an in-process request: a hard deadline, and how it went (see Exchange). */
export interface InProcessHooks {
  limits?: Exchange['limits'];
  onInterrupted?: Exchange['onInterrupted'];
}

/** The request fields (as a socket would give them) and body of an in-process request. */
export function inProcessFields(options: InProcessRequest = {}): { fields: RequestFields; body: Buffer } {
  const method = (options.method ?? 'GET').toUpperCase();
  const url = options.path ?? '/';
  const q = url.indexOf('?');
  const body = options.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body);
  const headerList: [string, string][] = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {});
  const raw: string[] = [];
  let host = '';
  let hasLength = false;
  for (const [k, v] of headerList) {
    const lower = k.toLowerCase();
    if (lower === 'host') host = v;
    else if (lower === 'content-length') hasLength = true;
    raw.push(k, v);
  }
  if (!host) raw.push('Host', (host = 'localhost'));
  if (body.length && !hasLength) raw.push('Content-Length', String(body.length));
  const fields: RequestFields = {
    method,
    rawPath: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? '' : url.slice(q + 1),
    requestUri: url,
    protocol: 'HTTP/1.1',
    scheme: 'http',
    serverName: host.replace(/:\d+$/, ''),
    serverPort: '80',
    hostPort: 80,
    hostHasPort: false,
    localAddr: '127.0.0.1',
    localPort: 80,
    remoteAddr: '127.0.0.1',
    remotePort: '0',
    headers: raw.join('\n'),
    contentLength: body.length,
    chunked: false,
    hasBody: body.length > 0,
  };
  return { fields, body };
}

/** Sends one request to `backend` for the group named `groupName`; resolves with the response. */
export function requestInProcess(
  backend: Backend,
  groupName: string,
  options: InProcessRequest = {},
  hooks: InProcessHooks = {},
): Promise<CollectedResponse> {
  const { fields, body } = inProcessFields(options);
  const writer = new CollectingWriter();
  const req = Readable.from(body.length ? [body] : []) as unknown as IncomingMessage;
  const ex: Exchange = {
    req,
    writer,
    fields,
    scriptName: '',
    pathInfo: fields.rawPath,
    processGroup: '',
    applicationGroup: reportedGroupName(groupName),
    groupName,
    passAuthorization: true,
    bodyLimits: { maxBytes: 0, idleTimeout: 0 },
    onDone: () => {},
    limits: hooks.limits,
    onInterrupted: hooks.onInterrupted,
  };
  backend.submit(ex);
  return writer.done;
}
