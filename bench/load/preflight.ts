/**
 * One request before any load: checks status, Content-Type, Content-Length and the exact body, so
 * a broken peer fails with a precise message instead of a wall of wrk mismatches.
 */
import * as http from 'node:http';
import type { Scenario } from '../lib/scenarios.js';

export interface PreflightResult {
  problems: string[];
  headers: Record<string, string | string[] | undefined>;
}

export function preflight(url: string, s: Scenario, timeoutMs = 30000): Promise<PreflightResult> {
  return new Promise((resolve) => {
    const target = new URL(url.replace(/\/?$/, s.path));
    const body = s.requestBody;
    const req = http.request(
      {
        host: target.hostname,
        port: Number(target.port),
        path: target.pathname,
        method: s.method,
        agent: false,
        headers: body ? { 'Content-Type': s.requestContentType ?? 'application/octet-stream', 'Content-Length': String(body.length) } : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => resolve({ problems: [`response error: ${e.message}`], headers: res.headers }));
        res.on('end', () => {
          const got = Buffer.concat(chunks);
          const problems: string[] = [];
          if (res.statusCode !== s.expected.status) problems.push(`status ${res.statusCode}, want ${s.expected.status}`);
          const ctype = res.headers['content-type'];
          if (ctype !== s.expected.contentType) problems.push(`Content-Type ${JSON.stringify(ctype)}, want ${JSON.stringify(s.expected.contentType)}`);
          const clen = res.headers['content-length'];
          if (clen !== undefined && clen !== String(got.length)) problems.push(`Content-Length ${clen} but ${got.length} body bytes`);
          if (!got.equals(s.expected.body)) {
            problems.push(
              `body differs: ${got.length} bytes, want ${s.expected.body.length}; starts ${JSON.stringify(got.subarray(0, 200).toString('latin1'))}`,
            );
          }
          resolve({ problems, headers: res.headers });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ problems: [`request failed: ${e.message}`], headers: {} }));
    req.end(body);
  });
}
