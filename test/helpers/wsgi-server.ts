/**
 * Test servers for the WSGI gateway: one pyhost Engine per test process (ava runs each file in
 * its own process, and a process holds one Python runtime), a log capture, and Node HTTP servers
 * on 127.0.0.1:0 serving mount handlers.
 *
 * `startChildServer` runs the server in a separate, minimal Node process instead (this file is
 * its entry point, see the end), so memory measurements see the server alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine, type EngineOptions, type LogRecord, type MountHandler, type MountOptions } from '../../ts/index.js';
import { NativeFront, nativeUnsupported } from '../../ts/front/native-front.js';

export const TEST_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = path.join(TEST_DIR, 'fixtures', 'wsgi');
/** Debian's Python 3.11, which has python3-flask and python3-django on its sys.path. */
export const DEBIAN_PYTHON = '/usr/bin/python3.11';

/** Absolute path of a fixture under test/fixtures/wsgi. */
export function fixture(...parts: string[]): string {
  return path.join(FIXTURES, ...parts);
}

/** Log lines captured from an Engine. */
export class LogCapture {
  readonly records: LogRecord[] = [];
  private waiters: { pred: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }[] = [];

  readonly sink = (r: LogRecord): void => {
    this.records.push(r);
    if (process.env.PYHOST_TEST_LOG) process.stderr.write(`[${r.level}] [${r.group ?? ''}] ${r.message}\n`);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(r)) return true;
      w.resolve(r);
      return false;
    });
  };

  /** Records of a group (the engine group name, e.g. `%{GLOBAL}` or `127.0.0.1:PORT|/app`). */
  forGroup(group: string): LogRecord[] {
    return this.records.filter((r) => r.group === group);
  }

  /** Records at level error (optionally of one group). */
  errors(group?: string): LogRecord[] {
    return this.records.filter((r) => r.level === 'error' && (group === undefined || r.group === group));
  }

  /** All messages (optionally of one group) joined by newlines. */
  text(group?: string): string {
    return this.records
      .filter((r) => group === undefined || r.group === group)
      .map((r) => r.message)
      .join('\n');
  }

  /** Messages containing `needle`. */
  matching(needle: string | RegExp): LogRecord[] {
    return this.records.filter((r) => (typeof needle === 'string' ? r.message.includes(needle) : needle.test(r.message)));
  }

  /** Resolves with the first record (already logged or future) matching `pred`; rejects after `timeoutMs`. */
  waitFor(pred: (r: LogRecord) => boolean, timeoutMs = 5000): Promise<LogRecord> {
    const found = this.records.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = { pred, resolve: (r: LogRecord) => (clearTimeout(timer), resolve(r)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching log record within ${timeoutMs} ms; log so far:\n${this.text()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

export interface TestEngine {
  engine: Engine;
  logs: LogCapture;
}

/**
 * The front `serve()` and `startCli()` use: $PYHOST_TEST_FRONT ('native' or 'node'); unset, the
 * default (node:http for serve(), start-server's own default for the CLI). The files in
 * test/front-native and test/front-node run the HTTP suites once more with the other front.
 */
export const TEST_FRONT = process.env.PYHOST_TEST_FRONT as 'native' | 'node' | undefined;

let currentEngine: Engine | undefined;

/** Starts the process's Engine with a log capture (debug level), e.g. in `test.before`. */
export async function startEngine(options: Omit<EngineOptions, 'logger'> = {}): Promise<TestEngine> {
  const logs = new LogCapture();
  const engine = await Engine.start({ logLevel: 'debug', ...options, logger: logs.sink });
  currentEngine = engine;
  return { engine, logs };
}

export interface TestServer {
  /** The node:http server (undefined on the native front). */
  server?: http.Server;
  /** Which front serves. */
  front: 'native' | 'node';
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Closes the server, destroying open connections. */
  close(): Promise<void>;
}

/** Mounts the native front could not serve under PYHOST_TEST_FRONT=native, and why (served by node:http). */
export const nativeFallbacks: string[] = [];

/** A mount handler on the native front (with PYHOST_TEST_FRONT=native), if it can serve it. */
async function serveNative(listener: http.RequestListener): Promise<TestServer | undefined> {
  const handler = listener as MountHandler;
  const why = typeof handler.mountPoint === 'string' ? nativeUnsupported(handler) : 'not a mount handler';
  if (why || !currentEngine) {
    nativeFallbacks.push(why || 'no engine from startEngine()');
    if (process.env.PYHOST_TEST_LOG) process.stderr.write(`[test] served by node:http, not the native front: ${nativeFallbacks.at(-1)}\n`);
    return undefined;
  }
  const front = await NativeFront.start(currentEngine, {
    host: '127.0.0.1',
    port: 0,
    listenBacklog: 511,
    headerTimeout: 20_000,
    routes: [{ prefix: handler.mountPoint, mount: handler }],
  });
  return {
    front: 'native',
    port: front.port,
    url: `http://127.0.0.1:${front.port}`,
    close: async () => void (await front.close(0)),
  };
}

/**
 * Serves several mounts on one port, each request going to the mount with the longest matching
 * mount point (404 for none): node:http, or the native front with PYHOST_TEST_FRONT=native.
 */
export async function serveMounts(mounts: MountHandler[]): Promise<TestServer> {
  if (TEST_FRONT === 'native' && currentEngine && mounts.every((m) => !nativeUnsupported(m))) {
    const front = await NativeFront.start(currentEngine, {
      host: '127.0.0.1',
      port: 0,
      listenBacklog: 511,
      headerTimeout: 20_000,
      routes: mounts.map((m) => ({ prefix: m.mountPoint, mount: m })),
    });
    return { front: 'native', port: front.port, url: `http://127.0.0.1:${front.port}`, close: async () => void (await front.close(0)) };
  }
  const { createRouter } = await import('../../ts/http/router.js');
  return serve(createRouter(mounts.map((m) => ({ prefix: m.mountPoint, handler: m }))));
}

/**
 * Serves `listener` (a mount handler, an Express app, ...) on 127.0.0.1 and a free port: with
 * node:http, or (PYHOST_TEST_FRONT=native, a mount the native front supports) natively.
 */
export async function serve(listener: http.RequestListener): Promise<TestServer> {
  if (TEST_FRONT === 'native') {
    const native = await serveNative(listener);
    if (native) return native;
  }
  const server = http.createServer(listener);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    front: 'node',
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A fresh temporary directory (removed at process exit). */
export function tempDir(prefix = 'pyhost-wsgi-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `size` pseudo-random (seeded, reproducible) bytes to `file`; returns them. */
export function writeDataFile(file: string, size: number, seed = 42): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  fs.writeFileSync(file, b);
  return b;
}

/** Writes a file and moves its mtime forward by `bumpSeconds` (so mtime-based reloads see a change). */
export function writeScript(file: string, source: string, bumpSeconds = 0): void {
  const before = fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0;
  fs.writeFileSync(file, source);
  if (bumpSeconds || before) {
    const t = Math.max(Date.now(), before) / 1000 + Math.max(bumpSeconds, 2);
    fs.utimesSync(file, t, t);
  }
}

/** The default engine group name of a %{RESOURCE} mount, as a client on 127.0.0.1:PORT sees it. */
export function resourceGroup(port: number, scriptName: string): string {
  return `127.0.0.1:${port}|${scriptName}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then returns the last value). */
export async function poll<T>(fn: () => Promise<T> | T, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await fn();
  while (!v && Date.now() < end) {
    await sleep(everyMs);
    v = await fn();
  }
  return v;
}

// ---- A server in its own process ----

export interface ChildServerOptions {
  engine?: Omit<EngineOptions, 'logger'>;
  /** Mounts, dispatched by the longest matching mount point (functions cannot cross processes). */
  mounts: { script: string | null; options?: Omit<MountOptions, 'accessLog'> }[];
}

export interface ChildServer {
  port: number;
  url: string;
  pid: number;
  logs: LogCapture;
  /** The server process's RSS now and its peak (sampled every 20 ms) since the last resetPeak. */
  memory(): Promise<{ rss: number; peak: number }>;
  resetPeak(): Promise<void>;
  close(): Promise<void>;
}

const CHILD_FLAG = '--pyhost-wsgi-child-server';

/** Starts a pyhost server in a child Node process; its log records arrive in `logs`. */
export function startChildServer(options: ChildServerOptions): Promise<ChildServer> {
  const self = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', self, CHILD_FLAG, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: path.resolve(TEST_DIR, '..'),
  });
  const logs = new LogCapture();
  return new Promise((resolve, reject) => {
    let buf = '';
    let ready = false;
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!ready) reject(new Error(`child server exited with ${code} before it was ready; log:\n${logs.text()}`));
    });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      buf += c;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('LOG ')) logs.sink(JSON.parse(line.slice(4)));
        else if (line.startsWith('READY ')) {
          ready = true;
          // The mounts' port, and the port of /__memory (the same on node:http).
          const [port, controlPort] = line.slice(6).split(' ').map(Number);
          const url = `http://127.0.0.1:${port}`;
          const control = async (method: string) => {
            const res = await fetch(`http://127.0.0.1:${controlPort ?? port}/__memory`, { method });
            return res.json() as Promise<{ rss: number; peak: number }>;
          };
          resolve({
            port,
            url,
            pid: child.pid!,
            logs,
            memory: () => control('GET'),
            resetPeak: async () => void (await control('POST')),
            close: () =>
              new Promise<void>((done) => {
                if (child.exitCode !== null) return done();
                child.once('exit', () => done());
                child.kill('SIGKILL');
              }),
          });
        } else if (line.startsWith('FAIL ')) {
          reject(new Error(`child server failed: ${JSON.parse(line.slice(5))}`));
        }
      }
    });
  });
}

async function runChildServer(options: ChildServerOptions): Promise<void> {
  const out = (line: string) => process.stdout.write(line + '\n');
  try {
    const engine = await Engine.start({ ...options.engine, logLevel: 'debug', logger: (r) => out('LOG ' + JSON.stringify(r)) });
    const mounts = options.mounts
      .map((m) => ({ prefix: (m.options?.mountPoint ?? '/').replace(/\/+$/, ''), handler: engine.mount(m.script, m.options) }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
    // The native front serves the mounts on a port of its own; node:http keeps /__memory.
    const native =
      TEST_FRONT === 'native' && mounts.every((m) => !nativeUnsupported(m.handler))
        ? await NativeFront.start(engine, {
            host: '127.0.0.1',
            port: 0,
            listenBacklog: 511,
            headerTimeout: 20_000,
            routes: mounts.map((m) => ({ prefix: m.prefix, mount: m.handler })),
          })
        : undefined;
    let peak = process.memoryUsage().rss;
    setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20).unref();
    const server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      if (url === '/__memory') {
        const rss = process.memoryUsage().rss;
        peak = Math.max(peak, rss);
        const body = JSON.stringify({ rss, peak });
        if (req.method === 'POST') peak = rss;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
        return;
      }
      const m = mounts.find((x) => x.prefix === '' || url === x.prefix || url.startsWith(x.prefix + '/') || url.startsWith(x.prefix + '?'));
      if (!m) return void res.writeHead(404).end();
      m.handler(req, res);
    });
    server.listen(0, '127.0.0.1', () => {
      const control = (server.address() as AddressInfo).port;
      out(native ? `READY ${native.port} ${control}` : `READY ${control}`);
    });
  } catch (err) {
    out('FAIL ' + JSON.stringify(String((err as Error)?.stack ?? err)));
    process.exit(1);
  }
}

const flagAt = process.argv.indexOf(CHILD_FLAG);
if (flagAt > 0 && process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void runChildServer(JSON.parse(process.argv[flagAt + 1]));
}
