/**
 * Daemon-process options and the transport (issue 4): displayName, lang/locale/environment,
 * home, pythonPath, the WSGI environ a daemon gives (wsgi.multiprocess / multithread,
 * mod_wsgi.process_group), application groups inside a daemon process, and bodies both ways
 * through the daemon hop: a 50 MB upload, a 200 MB streamed response with backpressure, and a
 * wsgi.file_wrapper response.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { APP, cmdline, daemonSites, failed, getJson, waitUntil } from './helpers/daemon.js';
import { request } from './helpers/http.js';
import { serve, sleep, startEngine, tempDir, writeDataFile } from './helpers/wsgi-server.js';

const site = daemonSites(test);

test('displayName, lang, locale, environment, home and pythonPath reach the daemon processes', async (t) => {
  const home = tempDir('pyhost-daemon-home-');
  const lib = tempDir('pyhost-daemon-lib-');
  fs.writeFileSync(path.join(lib, 'daemon_lib_marker.py'), 'WHERE = "lib"\n');
  fs.writeFileSync(path.join(home, 'daemon_home_marker.py'), 'WHERE = "home"\n');
  const s = await site({
    group: {
      processes: 2,
      threads: 3,
      displayName: 'pyhost-test-display',
      lang: 'C.UTF-8',
      locale: 'C.UTF-8',
      environment: { PYHOST_DAEMON_TEST_VAR: 'value with spaces', PYHOST_DAEMON_OTHER: 'x=y' },
      home,
      pythonPath: [lib],
    },
  });
  const info = await getJson(`${s.url}/info?mods=daemon_lib_marker,daemon_home_marker`, s.logs);
  // Process title: argv[0] in /proc/PID/cmdline and in ps.
  t.is(cmdline(info.pid)[0], 'pyhost-test-display');
  t.is(info.cmdline[0], 'pyhost-test-display');
  const ps = execFileSync('ps', ['-o', 'args=', '-p', String(info.pid)], { encoding: 'utf8' }).trim();
  t.true(ps.startsWith('pyhost-test-display'), ps);
  for (const p of s.group.stats().processes) t.is(cmdline(p.pid!)[0], 'pyhost-test-display');
  // Environment.
  t.is(info.env.LANG, 'C.UTF-8');
  t.is(info.env.LC_ALL, 'C.UTF-8');
  t.is(info.env.PYHOST_DAEMON_TEST_VAR, 'value with spaces');
  t.is(info.env.PYHOST_DAEMON_OTHER, 'x=y');
  // home: the working directory, and on sys.path; pythonPath on sys.path (importable).
  t.is(info.cwd, home);
  t.true(info.path.includes(home), JSON.stringify(info.path));
  t.true(info.path.includes(lib), JSON.stringify(info.path));
  t.is(info.modules.daemon_lib_marker.file, path.join(lib, 'daemon_lib_marker.py'));
  t.is(info.modules.daemon_home_marker.file, path.join(home, 'daemon_home_marker.py'));
  // The WSGI environ of a daemon request.
  t.is(info.environ['wsgi.multiprocess'], true);
  t.is(info.environ['wsgi.multithread'], true);
  t.is(info.environ['wsgi.run_once'], false);
  t.is(info.environ['mod_wsgi.process_group'], s.group.name);
  t.is(info.environ['pyhost.process_group'], s.group.name);
  t.true(info.has_file_wrapper);
});

test('wsgi.multiprocess / multithread follow processes and threads as mod_wsgi', async (t) => {
  // Defaults (processes not given, threads 1): neither. processes: 1 given explicitly: multiprocess.
  const single = await site({ group: { threads: 1 } });
  const explicit = await site({ group: { processes: 1, threads: 2 } });
  const a = await getJson(`${single.url}/info`, single.logs);
  t.is(a.environ['wsgi.multiprocess'], false);
  t.is(a.environ['wsgi.multithread'], false);
  const b = await getJson(`${explicit.url}/info`, explicit.logs);
  t.is(b.environ['wsgi.multiprocess'], true);
  t.is(b.environ['wsgi.multithread'], true);
});

test('application groups inside one daemon process are separate interpreters, as in embedded mode', async (t) => {
  const { engine, logs } = await startEngine({ restrictEmbedded: true });
  try {
    const g = engine.daemonGroup('appgroups', { processes: 1, threads: 4 });
    await g.start();
    const mounts = {
      '/global': engine.mount(APP, { processGroup: 'appgroups', mountPoint: '/global', group: '%{GLOBAL}' }),
      '/one': engine.mount(APP, { processGroup: 'appgroups', mountPoint: '/one', group: 'one' }),
      '/two': engine.mount(APP, { processGroup: 'appgroups', mountPoint: '/two', group: 'two' }),
    };
    const s = await serve((req, res) => {
      const key = (Object.keys(mounts) as (keyof typeof mounts)[]).find((k) => req.url!.startsWith(k))!;
      mounts[key](req, res);
    });
    try {
      const counts: Record<string, number[]> = {};
      const pids = new Set<number>();
      for (const k of ['/global', '/one', '/two']) {
        counts[k] = [];
        for (let i = 0; i < (k === '/one' ? 3 : 2); i++) {
          const r = await getJson(`${s.url}${k}/pid`, logs);
          counts[k].push(r.count);
          pids.add(r.pid);
        }
        const info = await getJson(`${s.url}${k}/info`, logs);
        t.is(info.environ['mod_wsgi.application_group'], k === '/global' ? '' : k.slice(1));
        t.is(info.environ['mod_wsgi.process_group'], 'appgroups');
      }
      // One process; module state (the request counter) per interpreter.
      t.is(pids.size, 1);
      t.deepEqual(counts, { '/global': [1, 2], '/one': [1, 2, 3], '/two': [1, 2] });
    } finally {
      await s.close();
    }
  } finally {
    await engine.close();
  }
});

test('a 50 MB upload reaches the daemon whole (sha256), with Content-Length and chunked', async (t) => {
  const s = await site({ group: { processes: 1, threads: 2 } });
  const body = crypto.randomBytes(50 * 1024 * 1024);
  const sha = crypto.createHash('sha256').update(body).digest('hex');
  const r = await request(`${s.url}/upload`, { method: 'POST', body, timeoutMs: 120_000 });
  t.is(r.status, 200, r.text().slice(0, 300));
  t.deepEqual({ length: r.json().length, sha256: r.json().sha256 }, { length: body.length, sha256: sha });
  const c = await request(`${s.url}/upload`, { method: 'POST', body: body.subarray(0, 8 * 1024 * 1024), chunked: 300_000, timeoutMs: 120_000 });
  t.is(c.status, 200, c.text().slice(0, 300));
  t.is(c.json().length, 8 * 1024 * 1024);
  t.is(c.json().sha256, crypto.createHash('sha256').update(body.subarray(0, 8 * 1024 * 1024)).digest('hex'));
});

test('a slow-reading application holds an upload back (the front does not buffer the body)', async (t) => {
  const s = await site({ group: { processes: 1, threads: 2 } });
  const total = 50 * 1024 * 1024;
  const piece = Buffer.alloc(65536, 7);
  let pulled = 0;
  const body = new Readable({
    read() {
      if (pulled >= total) return void this.push(null);
      pulled += piece.length;
      this.push(piece);
    },
  });
  // The app sleeps 3 s before reading wsgi.input: meanwhile the client can send only what the
  // buffers on the way hold.
  const done = request(`${s.url}/upload?wait=3`, { method: 'POST', body, headers: { 'Content-Length': String(total) }, timeoutMs: 120_000 });
  let last = -1;
  await waitUntil(
    async () => {
      const before = pulled;
      await sleep(300);
      last = pulled;
      return pulled === before && pulled > 0;
    },
    2500,
    'the upload to stall while the application sleeps',
  ).catch(() => undefined);
  t.log(`sent ${last} bytes before the application read anything`);
  t.true(last < 32 * 1024 * 1024, `the client got ${last} bytes out while the application was not reading`);
  const r = await done;
  t.is(r.status, 200, r.text().slice(0, 300));
  t.is(r.json().length, total);
  t.is(r.json().sha256, crypto.createHash('sha256').update(Buffer.concat(Array.from({ length: total / piece.length }, () => piece))).digest('hex'));
});

test('a 200 MB streamed response: whole and in order, and a slow client holds the daemon back', async (t) => {
  const s = await site({ group: { processes: 1, threads: 2 } });
  const total = 200 * 1024 * 1024;
  const block = 65536;
  const filler = Buffer.alloc(block);
  for (let i = 0; i < block; i++) filler[i] = i % 256;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
    http.get(`${s.url}/stream?total=${total}&id=big`, { agent: false }, resolve).on('error', reject),
  );
  t.is(res.statusCode, 200);
  t.is(res.headers['content-length'], String(total));
  // Read a little, then stop reading: the app's generator must stall, not run ahead to 200 MB.
  res.pause();
  const stats = async () => (await getJson(`${s.url}/streamstats?id=big`, s.logs)) as { yielded: number; done: boolean };
  let last = -1;
  let now = await stats();
  await waitUntil(
    async () => {
      last = now.yielded;
      await sleep(400);
      now = await stats();
      return now.yielded === last; // stalled
    },
    30_000,
    'the stream to stall behind the paused client',
  );
  t.false(now.done);
  t.log(`the application yielded ${now.yielded} bytes while the client read nothing`);
  t.true(now.yielded < 64 * 1024 * 1024, `yielded ${now.yielded} bytes while the client read nothing`);
  // Resume: every block arrives, in order, and the stream finishes.
  let received = 0;
  let bad = -1;
  const hash = crypto.createHash('sha256');
  const expected = crypto.createHash('sha256');
  let pending: Buffer = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    res.on('data', (c: Buffer) => {
      received += c.length;
      hash.update(c);
      pending = pending.length ? Buffer.concat([pending, c]) : c;
      while (pending.length >= block || (received === total && pending.length > 0)) {
        const n = Math.min(block, pending.length);
        const idx = (received - pending.length) / block;
        const chunk = pending.subarray(0, n);
        if (bad < 0 && (chunk.readBigUInt64BE(0) !== BigInt(idx) || !chunk.subarray(8).equals(filler.subarray(8, n)))) bad = idx;
        pending = pending.subarray(n);
      }
    });
    res.on('end', resolve);
    res.on('error', reject);
    res.resume();
  });
  t.is(received, total);
  t.is(bad, -1, `block ${bad} is wrong`);
  for (let i = 0; i < total / block; i++) {
    const b = Buffer.from(filler);
    b.writeBigUInt64BE(BigInt(i), 0);
    expected.update(b);
  }
  t.is(hash.digest('hex'), expected.digest('hex'));
  t.true((await stats()).done);
});

test('a wsgi.file_wrapper response comes through the daemon whole', async (t) => {
  const s = await site({ group: { processes: 1, threads: 2 } });
  const dir = tempDir('pyhost-daemon-file-');
  const file = path.join(dir, 'data.bin');
  const data = writeDataFile(file, 5 * 1024 * 1024 + 123);
  const r = await request(`${s.url}/file?path=${encodeURIComponent(file)}`);
  t.is(r.status, 200);
  t.true(r.complete);
  t.is(r.headers['content-length'], String(data.length));
  t.is(r.body.length, data.length);
  t.true(r.body.equals(data));
  // And again on the same process (the connection to the daemon is reused).
  const again = await request(`${s.url}/file?path=${encodeURIComponent(file)}`);
  t.false(failed({ path: '', status: again.status, body: '', complete: again.complete }));
  t.true(again.body.equals(data));
});
