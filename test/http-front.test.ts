/**
 * What a front owes its clients beyond one request per connection, on both fronts
 * (`start-server --front native|node`, embedded mode), over raw sockets: pipelining (responses
 * in order, a request behind a body), keep-alive limits (--max-keep-alive-requests,
 * --keep-alive-timeout), slow clients (a head and a body trickling in, a reader that pauses, while
 * other clients are served), a client that leaves mid-body (the application's read fails, the
 * server goes on), files (wsgi.file_wrapper and --url-alias, sent with sendfile on the native
 * front: exact bytes, offsets, a shorter Content-Length, HEAD, 304), and the access log (written
 * by the native front itself, in embedded and daemon mode).
 */
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseResponse, rawRequest, request, type ParsedResponse } from './helpers/http.js';
import { startCli, within } from './helpers/daemon.js';
import { REPO_ROOT } from './helpers/child.js';
import { PY313, skipUnlessPython } from './helpers/pythons.js';
import { fixture, poll, sleep, tempDir, writeDataFile } from './helpers/wsgi-server.js';

const APP = fixture('front_app.wsgi');
const FRONTS = ['native', 'node'] as const;

/** The bytes of /big?n=N (front_app.wsgi's pattern). */
function pattern(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = i % 256;
  return out;
}

/** One client connection: sends requests and reads whole responses, one at a time. */
class Connection {
  private data = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(text: string | Buffer): void {
    this.socket.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
  }

  /** The next whole response (throws if the connection closes first or nothing comes in time). */
  async response(opts: { head?: boolean; timeoutMs?: number } = {}): Promise<ParsedResponse> {
    const end = Date.now() + (opts.timeoutMs ?? 10_000);
    for (;;) {
      if (this.data.includes('\r\n\r\n')) {
        const r = parseResponse(this.data, { closed: this.closed, head: opts.head });
        if (r.complete) {
          this.data = r.rest;
          return r;
        }
      }
      if (this.closed) throw new Error(`connection closed; bytes left: ${JSON.stringify(this.data.toString('latin1').slice(0, 200))}`);
      if (Date.now() > end) throw new Error(`no whole response in time; bytes so far: ${JSON.stringify(this.data.toString('latin1').slice(0, 200))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** Resolves once the server closed the connection, or rejects after `ms`. */
  async closedWithin(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > end) throw new Error(`still open after ${ms} ms`);
      await sleep(20);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const GET = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

for (const front of FRONTS) {
  test(`${front}: pipelined requests are answered in order, a body and a HEAD among them`, async (t) => {
    const cli = await startCli([APP, '--front', front]);
    const c = new Connection(cli.port);
    try {
      c.send(GET('/conn') + 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' + GET('/chunked') + 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n' + GET('/', 'Connection: close\r\n'));
      const port = (await c.response()).body.toString();
      t.regex(port, /^\d+$/);
      t.is((await c.response()).body.toString(), 'hello');
      const chunked = await c.response();
      t.true(chunked.chunked);
      t.is(chunked.body.toString(), 'one two three');
      const head = await c.response({ head: true });
      t.is(head.status, 200);
      t.is(head.header('content-length'), '2');
      const last = await c.response();
      t.is(last.body.toString(), 'ok');
      t.is(last.header('connection'), 'close');
      await c.closedWithin(2000);
      // The same, trickling in a few bytes at a time.
      const text = GET('/') + GET('/chunked') + GET('/', 'Connection: close\r\n');
      const pieces: (string | number)[] = [];
      for (let i = 0; i < text.length; i += 7) pieces.push(text.slice(i, i + 7), 5);
      const r = await rawRequest(cli.port, pieces, { timeoutMs: 10_000 });
      const first = parseResponse(r.data);
      const second = parseResponse(first.rest);
      const third = parseResponse(second.rest, { closed: r.closed });
      t.deepEqual([first.body.toString(), second.body.toString(), third.body.toString()], ['ok', 'one two three', 'ok']);
    } finally {
      c.destroy();
      cli.kill();
    }
  });

  test(`${front}: keep-alive limits: --max-keep-alive-requests closes after the Nth, --keep-alive-timeout closes an idle connection`, async (t) => {
    const cli = await startCli([APP, '--front', front, '--max-keep-alive-requests', '3', '--keep-alive-timeout', '0.6']);
    try {
      const c = new Connection(cli.port);
      const ports: string[] = [];
      for (let i = 0; i < 3; i++) {
        c.send(GET('/conn'));
        const r = await c.response();
        ports.push(r.body.toString());
        if (i < 2) t.not(r.header('connection'), 'close', `response ${i + 1}`);
        else t.is(r.header('connection'), 'close', 'the third response says it closes');
      }
      t.is(new Set(ports).size, 1, 'one connection');
      await c.closedWithin(2000);
      // Idle after a response: closed after about 0.6 s, not at once.
      const idle = new Connection(cli.port);
      idle.send(GET('/'));
      await idle.response();
      const started = Date.now();
      await idle.closedWithin(5000);
      const waited = Date.now() - started;
      t.true(waited >= 400, `closed too early: ${waited} ms`);
    } finally {
      cli.kill();
    }
  });

  test(`${front}: slow clients: a head and a body trickling in are served; a paused reader gets every byte; others are served meanwhile`, async (t) => {
    const cli = await startCli([APP, '--front', front, '--threads', '4']);
    try {
      const head = GET('/', 'Connection: close\r\n');
      const pieces: (string | number)[] = [];
      for (let i = 0; i < head.length; i += 10) pieces.push(head.slice(i, i + 10), 50);
      const slowHead = parseResponse((await rawRequest(cli.port, pieces, { timeoutMs: 10_000 })).data, { closed: true });
      t.is(slowHead.body.toString(), 'ok');
      const body = crypto.randomBytes(3000);
      const bodyPieces: (string | Buffer | number)[] = ['POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3000\r\n\r\n'];
      for (let i = 0; i < body.length; i += 500) bodyPieces.push(100, body.subarray(i, i + 500));
      const slowBody = parseResponse((await rawRequest(cli.port, bodyPieces, { timeoutMs: 10_000 })).data, { closed: true });
      t.true(slowBody.body.equals(body), 'the trickled body comes back whole');
      // A reader that stops reading for a second in the middle of 16 MB.
      const n = 16 << 20;
      const reader = net.connect(cli.port, '127.0.0.1', () => reader.write(GET(`/big?n=${n}`, 'Connection: close\r\n')));
      const chunks: Buffer[] = [];
      let got = 0;
      let paused = false;
      const done = new Promise<void>((resolve) => reader.on('close', () => resolve()));
      reader.on('data', (d: Buffer) => {
        chunks.push(d);
        got += d.length;
        if (!paused && got > n / 4) {
          paused = true;
          reader.pause();
          setTimeout(() => reader.resume(), 1000);
        }
      });
      // Meanwhile another client is answered at once.
      await sleep(300);
      const startedOther = Date.now();
      const other = await request(`${cli.url}/`);
      t.is(other.text(), 'ok');
      t.true(Date.now() - startedOther < 2000, `another client waited ${Date.now() - startedOther} ms`);
      await within(done, 30_000, 'the paused reader to finish');
      const r = parseResponse(Buffer.concat(chunks), { closed: true });
      t.is(r.body.length, n);
      t.true(r.body.equals(pattern(n)), 'every byte, in order');
    } finally {
      cli.kill();
    }
  });

  test(`${front}: a client that leaves mid-body: the application's read fails, nothing stays in flight, the server goes on`, async (t) => {
    const cli = await startCli([APP, '--front', front, '--graceful-timeout', '60']);
    try {
      await request(`${cli.url}/hits?reset=1`);
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve) => {
          const s = net.connect(cli.port, '127.0.0.1', () => {
            s.write('POST /read-all-slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n');
            s.write(Buffer.alloc(300_000, 1), () => setTimeout(() => {
              s.destroy();
              resolve();
            }, 100));
          });
          s.on('error', () => {});
        });
      }
      const hits = await poll(async () => {
        const h = (await request(`${cli.url}/hits`)).json<string[]>();
        return h.filter((x) => x === 'read-error').length === 3 ? h : undefined;
      }, 10_000);
      t.truthy(hits, 'each read failed in the application');
      t.is((await request(`${cli.url}/`)).text(), 'ok');
      await sleep(300);
      cli.child.kill('SIGTERM');
      const { code } = await within(cli.exited, 20_000, 'the exit after SIGTERM');
      t.is(code, 0);
      t.regex(cli.stderr(), /SIGTERM: finishing 0 request\(s\)/);
    } finally {
      cli.kill();
    }
  });

  test(`${front}: files: wsgi.file_wrapper (offset, a shorter Content-Length, HEAD) and --url-alias (ETag, 304, 404, 405) send exact bytes`, async (t) => {
    const dir = tempDir();
    const file = path.join(dir, 'data.bin');
    const data = writeDataFile(file, 5_000_000, 7);
    fs.writeFileSync(path.join(dir, 'page.html'), '<p>hi</p>');
    const cli = await startCli([APP, '--front', front, '--url-alias', '/static', dir]);
    try {
      const q = (extra: string) => `/file?path=${encodeURIComponent(file)}${extra}`;
      const whole = await request(cli.url + q(''));
      t.is(whole.headers['content-length'], String(data.length));
      t.true(whole.body.equals(data), 'the whole file');
      const rest = await request(cli.url + q('&offset=1000'));
      t.true(rest.body.equals(data.subarray(1000)), 'from the file position');
      // A Content-Length shorter than the file: that many bytes, and the connection stays in sync.
      const c = new Connection(cli.port);
      c.send(GET(q('&length=100')) + GET('/'));
      t.true((await c.response()).body.equals(data.subarray(0, 100)));
      t.is((await c.response()).body.toString(), 'ok');
      c.send(`HEAD ${q('')} HTTP/1.1\r\nHost: x\r\n\r\n` + GET('/'));
      const head = await c.response({ head: true });
      t.is(head.header('content-length'), String(data.length));
      t.is((await c.response()).body.toString(), 'ok', 'no body bytes after the HEAD response');
      c.destroy();
      const stat = await request(`${cli.url}/static/data.bin`);
      t.is(stat.status, 200);
      t.true(stat.body.equals(data));
      const etag = stat.headers.etag as string;
      t.truthy(etag);
      t.is((await request(`${cli.url}/static/data.bin`, { headers: { 'If-None-Match': etag } })).status, 304);
      const page = await request(`${cli.url}/static/page.html`);
      t.is(page.headers['content-type'], 'text/html; charset=utf-8');
      t.is(page.text(), '<p>hi</p>');
      t.is((await request(`${cli.url}/static/missing`)).status, 404);
      t.is((await request(`${cli.url}/static/page.html`, { method: 'POST', body: 'x' })).status, 405);
    } finally {
      cli.kill();
    }
  });
}

for (const [name, args] of [
  ['native, embedded', ['--front', 'native']],
  ['native, daemon', ['--front', 'native', '--processes', '1', '--threads', '2']],
  ['node, embedded', ['--front', 'node']],
] as [string, string[]][]) {
  test(`${name}: --access-log writes one Apache combined line per request to stdout`, async (t) => {
    const cli = await startCli([APP, ...args, '--access-log']);
    try {
      await request(`${cli.url}/conn?x=1`, { headers: { 'User-Agent': 'test "agent"', Referer: 'http://r/' } });
      await request(`${cli.url}/echo`, { method: 'POST', body: 'hello' });
      await request(`${cli.url}/chunked`);
      const lines = await poll(() => {
        const l = cli.stdout().split('\n').filter((x) => /^127\.0\.0\.1 - - \[/.test(x));
        return l.length >= 3 ? l : undefined;
      }, 10_000);
      t.truthy(lines, cli.stdout());
      const [first, second, third] = lines!;
      t.regex(first!, /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/conn\?x=1 HTTP\/1\.1" 200 \d+ "http:\/\/r\/" "test \\"agent\\""$/);
      t.regex(second!, /"POST \/echo HTTP\/1\.1" 200 5 "-" "-"$/);
      t.regex(third!, /"GET \/chunked HTTP\/1\.1" 200 13 "-" "-"$/);
    } finally {
      cli.kill();
    }
  });
}

const py313Missing = skipUnlessPython(test, PY313, 'own-GIL replicas on the native front');
if (!py313Missing) {
  test('native: own-GIL replicas (--replicas 2 --gil own) serve requests in parallel, from both interpreters', async (t) => {
    const cli = await startCli([APP, '--front', 'native', '--python', PY313, '--application-group', 'front', '--gil', 'own', '--replicas', '2', '--threads', '2']);
    try {
      // Warm both interpreters up (the first requests import the script).
      await Promise.all([request(`${cli.url}/interp`), request(`${cli.url}/interp`)]);
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 8 }, () => request(`${cli.url}/interp?ms=150`, { timeoutMs: 30_000 })));
      const elapsed = Date.now() - started;
      const interps = new Set(answers.map((r) => r.text()));
      t.is(interps.size, 2, `answered by ${[...interps].join(', ')}`);
      t.log(`8 requests of 150 ms CPU: ${elapsed} ms`);
    } finally {
      cli.kill();
    }
  });
}

test('which front: native by default; --request-timeout, --metrics and --health choose the Node front with a notice; --front native refuses them', async (t) => {
  const byDefault = await startCli([APP]);
  try {
    t.regex(byDefault.stdout(), /embedded mode, 5 threads, native front/);
  } finally {
    byDefault.kill();
  }
  for (const args of [['--request-timeout', '30'], ['--metrics', '/metrics', '--health', '/healthz']]) {
    const cli = await startCli([APP, ...args], { env: { ...process.env, PYHOST_TEST_FRONT: '' } });
    try {
      t.regex(cli.stdout(), /node front/, args.join(' '));
      t.regex(cli.stderr(), new RegExp(`serving with the Node front: ${args[0]} needs it`));
      t.is((await request(`${cli.url}/hello`)).status, 200);
      if (args[0] === '--metrics') {
        t.regex((await request(`${cli.url}/metrics`)).text(), /pyhost_requests_total/);
        t.is((await request(`${cli.url}/healthz`)).status, 200);
      }
    } finally {
      cli.kill();
    }
  }
  const refused = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'ts', 'cli.ts'), 'start-server', APP, '--front', 'native', '--metrics-port', '9'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.is(refused.status, 2, refused.stderr);
  t.regex(refused.stderr, /--front native cannot serve --metrics-port; use --front node/);
});
