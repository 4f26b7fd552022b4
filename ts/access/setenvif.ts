/**
 * mod_setenvif's rules (SetEnvIf, SetEnvIfNoCase, BrowserMatch, BrowserMatchNoCase) as they run
 * before access checks: server-level rules when the request is read, directory-level ones
 * after the sections are merged. `Require env` and `Allow from env=` read the result.
 */
import type { SetEnvRule } from '../config/access-plan.js';

/** What the rules can test. */
export interface SetEnvRequest {
  readonly clientAddr: string;
  readonly localAddr: string;
  readonly method: string;
  readonly protocol: string;
  /** The decoded URL path (r->uri). */
  readonly uri: string;
  /** Raw headers as [name, value] pairs. */
  readonly headers: readonly (readonly [string, string])[];
}

const compiled = new Map<string, RegExp>();
const re = (source: string, flags: string): RegExp => {
  const key = `${flags}/${source}`;
  let r = compiled.get(key);
  if (!r) compiled.set(key, (r = new RegExp(source, flags)));
  return r;
};

function attributeValue(rule: SetEnvRule, r: SetEnvRequest, env: Map<string, string>): string | undefined {
  switch (rule.attribute.toLowerCase()) {
    case 'remote_addr': return r.clientAddr;
    // HostnameLookups Off (Apache's default): the remote host is its address.
    case 'remote_host': return r.clientAddr;
    case 'server_addr': return r.localAddr;
    case 'request_method': return r.method;
    case 'request_protocol': return r.protocol;
    case 'request_uri': return r.uri;
  }
  if (rule.attributeIsRegex) {
    const names = re(rule.attribute, rule.regex.flags.includes('i') ? 'i' : '');
    let value: string | undefined;
    for (const [n, v] of r.headers) if (names.test(n)) value = v;
    return value;
  }
  const lower = rule.attribute.toLowerCase();
  const joined = r.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  if (joined.length) return joined.join(', ');
  return env.get(rule.attribute);
}

/** Runs `rules` in order on `env`. */
export function applySetEnv(rules: readonly SetEnvRule[], r: SetEnvRequest, env: Map<string, string>): void {
  for (const rule of rules) {
    const value = attributeValue(rule, r, env) ?? '';
    const m = re(rule.regex.source, rule.regex.flags).exec(value);
    if (!m) continue;
    for (const a of rule.actions) {
      if (a.unset) env.delete(a.name);
      else env.set(a.name, (a.value ?? '1').replace(/\$(\d)/g, (_, d: string) => m[Number(d)] ?? ''));
    }
  }
}
