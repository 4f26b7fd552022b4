/**
 * The access check in front of one server's routes: builds the {@link AccessRequest} from a
 * Node request and where it was routed (the script or file it maps to), asks the server's
 * {@link AccessControl}, and answers 401 (with `WWW-Authenticate: Basic realm="..."`), 403 or
 * 500 with Apache's pages, or lets the request through with REMOTE_USER and AUTH_TYPE for the
 * application's environ.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessDecision } from '../access/check.js';
import { AccessControl } from '../access/check.js';
import type { HookCgi, HookedRequest, HookRunner } from '../access/hooks.js';
import type { ServerAccess } from '../config/access-plan.js';
import { readRequestFields } from '../http/request-fields.js';

/** Where a request goes, as far as access control cares. */
export interface RoutedTarget {
  /** The decoded, normalised URL path. */
  readonly uri: string;
  /** The script or file it maps to, if routed. */
  readonly filename?: string;
  /** SCRIPT_NAME / PATH_INFO for the hooks' environ. */
  readonly scriptName: string;
  readonly pathInfo: string;
}

/** Names of the CGI variables the core's environ takes from the header list (see csrc/wsgi/environ.cc). */
const HOST_VARIABLE = '\u0001';

const PAGES: Record<number, [string, string]> = {
  401: ['Unauthorized', 'This server could not verify that you are authorized to access the document requested.  Either you supplied the wrong credentials (e.g., bad password), or your browser doesn\'t understand how to supply the credentials required.'],
  403: ['Forbidden', 'You don\'t have permission to access this resource.'],
  500: ['Internal Server Error', 'The server encountered an internal error or misconfiguration and was unable to complete your request.'],
};

/** Apache's error page for `status`. */
export function errorPage(res: ServerResponse, status: 401 | 403 | 500, extra: Record<string, string> = {}): void {
  const [title, text] = PAGES[status]!;
  const body = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>${status} ${title}</title>\n</head><body>\n<h1>${title}</h1>\n<p>${text}</p>\n</body></html>\n`;
  res.writeHead(status, { ...extra, 'Content-Type': 'text/html; charset=iso-8859-1', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const stripMapped = (a: string | undefined): string => (a && a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a ?? '');

export class AccessGate {
  private readonly control: AccessControl;

  constructor(access: ServerAccess, hooks: HookRunner | undefined, log: (message: string) => void, checkHtaccess: boolean) {
    this.control = new AccessControl(access, hooks, log, checkHtaccess);
  }

  /** Whether any request of this server needs checking. */
  get active(): boolean {
    return this.control.active;
  }

  /**
   * Checks `req` and either calls `pass` (after marking REMOTE_USER / AUTH_TYPE for the
   * environ) or answers it. `pass` runs at most once; a failure inside it goes to `failed`.
   */
  run(req: IncomingMessage, res: ServerResponse, target: RoutedTarget, pass: () => void, failed: (err: unknown) => void): void {
    const raw = req.rawHeaders;
    const headers: [string, string][] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i]!, raw[i + 1]!]);
    let cgi: HookCgi | undefined;
    const request: HookedRequest = {
      method: req.method ?? 'GET', uri: target.uri, ...(target.filename !== undefined ? { filename: target.filename } : {}),
      clientAddr: stripMapped(req.socket.remoteAddress), localAddr: stripMapped(req.socket.localAddress),
      protocol: `HTTP/${req.httpVersion}`, headers,
      // Only the auth hooks need the CGI fields: read them when one runs.
      get cgi() {
        return (cgi ??= { fields: readRequestFields(req, req.url ?? '/'), scriptName: target.scriptName, pathInfo: target.pathInfo });
      },
    };
    this.control.check(request).then((d: AccessDecision) => {
      if (d.status === 200) {
        if (d.user !== undefined) raw.push(`${HOST_VARIABLE}REMOTE_USER`, d.user);
        if (d.authType !== undefined) raw.push(`${HOST_VARIABLE}AUTH_TYPE`, d.authType);
        try {
          pass();
        } catch (err) {
          failed(err);
        }
        return;
      }
      if (res.headersSent) return;
      if (d.status === 401) errorPage(res, 401, { 'WWW-Authenticate': `Basic realm="${d.realm}"` });
      else errorPage(res, d.status);
    }, failed);
  }
}
