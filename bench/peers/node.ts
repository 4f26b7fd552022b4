/**
 * Bare Node `http` (the ceiling): one Node process answering the same bytes as hello, 64k and
 * upload in JavaScript (bench/peers/node-server.ts). One process because pyhost's embedded mode
 * is one Node process too; no Flask page (there is no Python here), so that scenario is n/a.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_DIR, type AppSpec, type Scenario } from '../lib/scenarios.js';
import { spawnServer, waitForPort } from '../lib/proc.js';
import type { Peer, RunningPeer, StartOptions } from './types.js';

const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node-server.ts');
const JS_APPS = new Set(['hello', 'bytes64k', 'upload']);

export async function start(app: AppSpec, opts: StartOptions): Promise<RunningPeer> {
  const server = spawnServer(process.execPath, ['--import', 'tsx', SERVER, '--port', String(opts.port), '--app', app.module], {
    cwd: REPO_DIR,
    logFile: opts.logFile,
  });
  try {
    await waitForPort(opts.port, server, 'node http');
  } catch (e) {
    await server.stop();
    throw e;
  }
  return { url: `http://127.0.0.1:${opts.port}`, pgid: server.pid, stop: () => server.stop(), logTail: () => server.logTail() };
}

export const peer: Peer = {
  id: 'node',
  label: 'bare Node http',
  setup: '1 Node process, node:http, bodies produced in JS (no Python): the ceiling',
  baseline: 'node',
  supports: (s: Scenario) => JS_APPS.has(s.app.module),
  prepare: async () => ({ ok: true }),
  start,
  versions: async () => ({ node: process.version }),
};
