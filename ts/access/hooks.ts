/**
 * Runs mod_wsgi's auth hooks (WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript) through
 * the same groups the applications use: each call is an internal WSGI request to the hook
 * adaptor (hook-adaptor.ts), in the serving process's Python (as mod_wsgi, which runs hooks in
 * the Apache child) or, with pyhost's `process-group=`, in that daemon process group; in the
 * application group the hook names (default `%{GLOBAL}`). The request's environ is built by the
 * same gateway as an application's, from the client's request minus its Authorization header.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { HookScript } from '../config/access-plan.js';
import { DaemonBackend } from '../daemon/backend.js';
import type { Engine } from '../engine.js';
import { resolveGroupName, reportedGroupName } from '../http/app-groups.js';
import type { Backend, Exchange } from '../http/backend.js';
import { CollectingWriter } from '../http/collecting-writer.js';
import { EmbeddedBackend } from '../http/embedded.js';
import type { RequestFields } from '../http/request-fields.js';
import type { AccessRequest, AuthHooks } from './check.js';
import { HOOK_HEADER, writeHookAdaptor } from './hook-adaptor.js';

/** The CGI side of a request, for the hook's environ. */
export interface HookCgi {
  readonly fields: RequestFields;
  readonly scriptName: string;
  readonly pathInfo: string;
}

/** An access request that also carries its CGI fields (the site layer fills them). */
export type HookedRequest = AccessRequest & { readonly cgi?: HookCgi };

const KIND: Record<string, string> = {
  allow_access: 'host access', check_password: 'user authentication', groups_for_user: 'group authorization',
};

export class HookRunner implements AuthHooks {
  private readonly adaptor = writeHookAdaptor();
  private readonly backends = new Map<string, Backend>();

  constructor(private readonly engine: Engine, private readonly log: (message: string) => void) {}

  /** Removes the adaptor script. */
  close(): void {
    this.adaptor.remove();
  }

  private backend(processGroup: string): Backend {
    let b = this.backends.get(processGroup);
    if (b) return b;
    const app = { target: this.adaptor.script, isModule: false, callable: 'application', reload: false };
    if (processGroup) {
      b = new DaemonBackend(this.engine.daemonGroup(processGroup), app, undefined);
    } else {
      const engine = this.engine;
      b = new EmbeddedBackend(engine.native, (ex) => engine.group(ex.groupName), app);
    }
    this.backends.set(processGroup, b);
    return b;
  }

  private async call(hook: HookScript, req: HookedRequest, call: Record<string, unknown>): Promise<{ result: unknown } | 'error'> {
    const function_ = call.function as string;
    const groupName = resolveGroupName(hook.applicationGroup, { host: '', port: 0, scriptName: '' });
    const base = req.cgi?.fields;
    const raw: string[] = [];
    for (const [n, v] of req.headers) {
      const lower = n.toLowerCase();
      if (lower === 'authorization' || lower === 'proxy-authorization' || lower === HOOK_HEADER.toLowerCase()) continue;
      raw.push(n, v);
    }
    raw.push(HOOK_HEADER, JSON.stringify({ ...call, script: hook.script, kind: KIND[function_] }));
    const fields: RequestFields = {
      method: req.method, rawPath: base?.rawPath ?? req.uri, query: base?.query ?? '', requestUri: base?.requestUri ?? req.uri,
      protocol: req.protocol, scheme: base?.scheme ?? 'http', serverName: base?.serverName ?? req.localAddr,
      serverPort: base?.serverPort ?? '80', hostPort: base?.hostPort ?? 80, hostHasPort: base?.hostHasPort ?? false,
      localAddr: req.localAddr, localPort: base?.localPort ?? 0, remoteAddr: req.clientAddr, remotePort: base?.remotePort ?? '',
      headers: raw.join('\n'), contentLength: -1, chunked: false, hasBody: false,
    };
    const writer = new CollectingWriter();
    const ex: Exchange = {
      req: Readable.from([]) as unknown as IncomingMessage,
      writer, fields,
      scriptName: req.cgi?.scriptName ?? req.uri, pathInfo: req.cgi?.pathInfo ?? '',
      processGroup: hook.processGroup, applicationGroup: reportedGroupName(groupName), groupName,
      passAuthorization: false, bodyLimits: { maxBytes: 0, idleTimeout: 0 }, onDone: () => {},
    };
    const where = `${hook.script} (${hook.file}:${hook.line})`;
    try {
      this.backend(hook.processGroup).submit(ex);
    } catch (e) {
      this.log(`auth hook ${function_} in ${where}: ${(e as Error).message}`);
      return 'error';
    }
    const reply = await writer.done;
    let out: { result?: unknown; error?: string } | undefined;
    try {
      out = reply.status === 200 ? JSON.parse(reply.body.toString('utf8')) : undefined;
    } catch {
      out = undefined;
    }
    if (!out || 'error' in out) {
      this.log(`auth hook ${function_} in ${where} failed: ${out?.error?.trimEnd() ?? `status ${reply.status}: ${reply.body.toString('latin1').slice(0, 500)}`}`);
      return 'error';
    }
    return { result: out.result };
  }

  async allowAccess(hook: HookScript, req: HookedRequest, host: string): Promise<boolean | null | 'error'> {
    const r = await this.call(hook, req, { function: 'allow_access', host });
    return r === 'error' ? 'error' : (r.result as boolean | null);
  }

  async checkPassword(hook: HookScript, req: HookedRequest, user: string, password: string): Promise<boolean | null | string | 'error'> {
    const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');
    const r = await this.call(hook, req, { function: 'check_password', user: b64(user), password: b64(password) });
    return r === 'error' ? 'error' : (r.result as boolean | null | string);
  }

  async groupsForUser(hook: HookScript, req: HookedRequest, user: string): Promise<readonly string[] | 'error'> {
    const r = await this.call(hook, req, { function: 'groups_for_user', user: Buffer.from(user, 'latin1').toString('base64') });
    return r === 'error' ? 'error' : (r.result as string[]);
  }
}
