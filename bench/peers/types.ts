/**
 * The peer interface: a server the bench can start on 127.0.0.1 with one of the bench apps.
 * One file per peer in bench/peers/; bench/peers/index.ts lists them in report order.
 */
import type { Availability } from '../lib/install.js';
import type { AppSpec, Scenario } from '../lib/scenarios.js';

export interface StartOptions {
  /** Port on 127.0.0.1 (the bench never binds anything else). */
  port: number;
  /** Worker processes, for peers that have them; each peer has a documented default. */
  processes?: number;
  /** Threads per process, for peers that have them; each peer has a documented default. */
  threads?: number;
  /** Concurrent connections the bench will open (peers that tie a thread to a connection size for it). */
  connections: number;
  /** File that receives the server's stdout/stderr. */
  logFile: string;
}

export interface RunningPeer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Process group of the server's processes (CPU accounting); every peer runs in its own group. */
  pgid: number;
  /** Stop every process of this server (idempotent). */
  stop(): Promise<void>;
  /** Tail of the server's logs, for failure messages. */
  logTail(): string;
}

export interface Peer {
  /** Stable id used by --only and in results.json: "node", "gunicorn-sync", ... */
  id: string;
  /** Human name in tables and the chart. */
  label: string;
  /** What was configured and why (goes into README and results). */
  setup: string;
  /** Peers whose numbers are the ratio baselines. */
  baseline?: 'mod_wsgi' | 'node';
  /** False when the peer cannot serve this scenario at all (bare Node has no Flask). */
  supports(s: Scenario): boolean;
  /** Check (and install, when root) what the peer needs. Never throws. */
  prepare(log: (line: string) => void): Promise<Availability>;
  /** Start serving `app`; resolves once the port answers. */
  start(app: AppSpec, opts: StartOptions): Promise<RunningPeer>;
  /** Versions worth recording (server, Python it runs on). */
  versions(): Promise<Record<string, string>>;
}
