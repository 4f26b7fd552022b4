/**
 * `pyhost start-server` against clients that misbehave (issue 14), in embedded and daemon mode,
 * over real sockets:
 * - a request pipelined behind a response whose connection dies (a short body, a client that
 *   leaves mid-stream) is not counted in flight for ever: SIGTERM finds nothing to wait for;
 * - a request line without a version gets 400 at once; a head cut short (or no bytes at all) gets
 *   408 at --header-timeout; a body that stalls gets 408 at --body-timeout;
 * - the listen backlog is --listen-backlog (default 2048), told once when the kernel caps it, and
 *   a burst of 1,000 simultaneous connections is answered in full.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { parseResponse, rawRequest } from './helpers/http.js';
import { startCli, within, type CliServer } from './helpers/daemon.js';
import { fixture } from './helpers/wsgi-server.js';

const APP = fixture('hostile_app.wsgi');
const MODES: [string, string[]][] = [
  ['embedded', []],
  ['daemon', ['--processes', '1', '--threads', '4']],
];

/** Sends `payload` on a new connection, reads `readBytes` bytes (or until close), then closes. */
function sendAndLeave(port: number, payload: string, readBytes: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(payload));
    let got = 0;
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= readBytes) done();
    });
    socket.on('close', done);
    socket.on('error', done);
  });
}

/** SIGTERM: resolves with how many requests the server said it was finishing, once it exited 0. */
async function stopAndCount(t: { is(a: unknown, b: unknown, m?: string): void }, cli: CliServer): Promise<number> {
  cli.child.kill('SIGTERM');
  const { code } = await within(cli.exited, 20_000, `the exit after SIGTERM\n${cli.stderr()}`);
  t.is(code, 0, cli.stderr());
  const m = /SIGTERM: finishing (\d+) request\(s\)/.exec(cli.stderr());
  if (!m) throw new Error(`no shutdown line on stderr:\n${cli.stderr()}`);
  return Number(m[1]);
}

/** The Send-Q of a listening socket as `ss` shows it: its accept-queue limit. */
function acceptQueueLimit(port: number): number {
  const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  const fields = out.trim().split(/\s+/);
  return Number(fields[2]);
}

for (const [mode, args] of MODES) {
  test(`${mode}: requests pipelined behind a dead response are not left in flight; SIGTERM waits for nothing`, async (t) => {
    // A graceful timeout far beyond the test's patience: a request wrongly counted would show.
    const cli = await startCli([APP, ...args, '--graceful-timeout', '60']);
    try {
      // The application sends fewer bytes than it declared: the server cuts the connection, and
      // the request pipelined behind it can never be answered.
      for (let i = 0; i < 20; i++) {
        await sendAndLeave(cli.port, 'GET /short HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', Infinity);
      }
      // The client leaves in the middle of a stream with a request pipelined behind it.
      for (let i = 0; i < 5; i++) {
        await sendAndLeave(cli.port, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', 200_000);
      }
      // The server still answers.
      const ok = parseResponse((await rawRequest(cli.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).data, { closed: true });
      t.is(ok.status, 200);
      t.is(ok.body.toString(), 'ok');
      // Let the server see the last closes.
      await new Promise((r) => setTimeout(r, 300));
      t.is(await stopAndCount(t, cli), 0);
    } finally {
      cli.kill();
    }
  });

  test(`${mode}: a request line without a version gets 400 at once; heads cut short and stalled bodies get 408`, async (t) => {
    const cli = await startCli([APP, ...args, '--header-timeout', '1', '--body-timeout', '1']);
    try {
      // 400 well before the head timeout could answer (the read gives up after 900 ms).
      for (const line of ['GET /\r\n', '\r\nGET /x\r\n']) {
        const r = await rawRequest(cli.port, line, { timeoutMs: 900 });
        t.false(r.timedOut, `no answer to ${JSON.stringify(line)}`);
        t.is(parseResponse(r.data, { closed: true }).status, 400, JSON.stringify(line));
      }
      // A head cut short, a connection that says nothing, a head after a first request on a
      // keep-alive connection: 408 once the second is up (Node alone waits 60-90 s).
      const heads = [
        'GET / HTTP/1.1\r\nHost: x\r\n',
        '',
        'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n',
      ];
      for (const head of heads) {
        const started = Date.now();
        const r = await rawRequest(cli.port, head, { timeoutMs: 10_000 });
        t.false(r.timedOut, `no answer to ${JSON.stringify(head)} within 10 s`);
        t.true(r.closed);
        t.true(Date.now() - started >= 900, `answered before the head timeout: ${Date.now() - started} ms`);
        let response = parseResponse(r.data, { closed: true });
        if (response.status === 200) response = parseResponse(response.rest, { closed: true });
        t.is(response.status, 408, JSON.stringify(head));
      }
      // A body that stops coming: 408, and the connection closes.
      const stalled = await rawRequest(cli.port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc', { timeoutMs: 10_000 });
      t.false(stalled.timedOut);
      t.true(stalled.closed);
      t.is(parseResponse(stalled.data, { closed: true }).status, 408);
      // A body that keeps coming, slowly, is read whole: the timeout is per idle stretch.
      const pieces: (string | number)[] = ['POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\n'];
      for (let i = 0; i < 6; i++) pieces.push(400, 'x');
      const slow = parseResponse((await rawRequest(cli.port, pieces, { timeoutMs: 10_000 })).data, { closed: true });
      t.is(slow.status, 200);
      t.deepEqual(JSON.parse(slow.body.toString()), { length: 6 });
      const after = parseResponse((await rawRequest(cli.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).data, { closed: true });
      t.is(after.status, 200);
      t.is(await stopAndCount(t, cli), 0);
    } finally {
      cli.kill();
    }
  });
}

test('the listen backlog is 2048 by default (the kernel permitting), --listen-backlog sets it, and a cap is told once', async (t) => {
  const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  const byDefault = await startCli([APP]);
  try {
    t.is(acceptQueueLimit(byDefault.port), Math.min(2048, somaxconn));
  } finally {
    byDefault.kill();
  }
  const small = await startCli([APP, '--listen-backlog', '100', '--processes', '1']);
  try {
    t.is(acceptQueueLimit(small.port), 100);
    t.notRegex(small.stderr(), /capped by the kernel/);
  } finally {
    small.kill();
  }
  const huge = await startCli([APP, '--listen-backlog', String(somaxconn + 1)]);
  try {
    t.is(acceptQueueLimit(huge.port), somaxconn);
    const notices = huge.stderr().match(/listen backlog \d+ is capped by the kernel at \d+ \(net\.core\.somaxconn\)/g) ?? [];
    t.is(notices.length, 1, huge.stderr());
  } finally {
    huge.kill();
  }
});

test('embedded: 1,000 simultaneous connections are all answered', async (t) => {
  const cli = await startCli([APP]);
  try {
    const { runConnectBurst } = await import('../bench/stress/connect-burst.js');
    const result = await runConnectBurst({ port: cli.port, connections: 1000, path: '/', expectBody: 'ok' });
    t.log(`1000 connections: ${result.answered} answered, slowest ${result.slowestMs} ms`);
    t.deepEqual(result.failures, []);
    t.is(result.answered, 1000);
  } finally {
    cli.kill();
  }
});
