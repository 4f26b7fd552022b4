/**
 * `pyhost start-server --processes N` (issue 4), run from the TypeScript source
 * (`node --import tsx ts/cli.ts`): SIGHUP restarts every daemon process gracefully under
 * continuous load (zero failed requests, new pids), --request-timeout gives 504 with the
 * stack on stderr, --display-name names the processes, SIGTERM lets the request in flight
 * finish and exits 0 with no daemon left behind.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PY311, PY313, pythonFacts, pythonMissing, skipUnlessPython } from './helpers/pythons.js';
import { tempDir } from './helpers/wsgi-server.js';
import { APP, attempt, childPids, cmdline, EVENT_TIMEOUT, failed, getJson, killDaemons, Load, pidAlive, startCli, waitForExit, waitUntil, within } from './helpers/daemon.js';

test('SIGHUP under load restarts the daemons with zero failed requests; SIGTERM drains and exits 0', async (t) => {
  const cli = await startCli([APP, '--processes', '2', '--threads', '4', '--display-name', 'pyhost-cli-daemon', '--request-timeout', '3', '--shutdown-timeout', '2']);
  try {
    t.regex(cli.stdout(), /daemon mode, 2 process\(es\) x 4 threads/);
    // Daemon mode runs no Python in the front: no libpython mapped in the CLI's process.
    t.deepEqual(fs.readFileSync(`/proc/${cli.child.pid}/maps`, 'utf8').split('\n').filter((l) => /libpython/.test(l)), []);
    const daemons = () => childPids(cli.child.pid!).filter((p) => pidAlive(p) && cmdline(p)[0] === 'pyhost-cli-daemon');
    await waitUntil(() => daemons().length === 2, EVENT_TIMEOUT, 'two daemon processes named pyhost-cli-daemon');
    const first = daemons();

    const load = new Load(cli.url, 8);
    try {
      await load.completed(100);
      t.true(load.pids.size > 0 && [...load.pids.keys()].every((p) => first.includes(p)), load.describe());
      cli.child.kill('SIGHUP');
      // Both processes replaced; the old ones exit.
      await waitUntil(() => {
        const now = daemons();
        return now.length === 2 && !now.some((p) => first.includes(p));
      }, EVENT_TIMEOUT, `two new daemon processes (first ${first}, now ${daemons()})`);
      for (const p of first) await waitForExit(p);
      // The new processes serve.
      const second = daemons();
      await waitUntil(() => second.some((p) => load.pids.has(p)), EVENT_TIMEOUT, 'the new processes to serve');
      await load.completed(100);
    } finally {
      await load.stop();
    }
    t.log(load.describe());
    t.deepEqual(load.failures, [], load.describe());
    t.regex(cli.stderr(), /SIGHUP: restarting the daemon processes gracefully/);
    t.regex(cli.stderr(), /recycling .*restart requested/);

    // --request-timeout: 504, the stack on stderr, the process replaced.
    const before = daemons();
    const stuck = await attempt(cli.url, '/sleep?s=60');
    t.is(stuck.status, 504);
    await waitUntil(() => /exceeded the request timeout/.test(cli.stderr()) && /stuck_in_sleep_for_timeout/.test(cli.stderr()), EVENT_TIMEOUT, 'the stack on stderr');
    await waitUntil(() => daemons().length === 2 && daemons().some((p) => !before.includes(p)), EVENT_TIMEOUT, 'a replacement process');
    t.false(failed(await attempt(cli.url, '/pid')));

    // SIGTERM with a request in flight: it finishes, then the server exits 0, daemons gone.
    const last = daemons();
    const inflight = attempt(cli.url, '/sleep?s=1.5');
    await new Promise((r) => setTimeout(r, 300));
    cli.child.kill('SIGTERM');
    const o = await inflight;
    t.is(o.status, 200, `${o.status} ${o.error ?? ''} ${o.body}`);
    t.true(o.complete);
    const { code, signal } = await within(cli.exited, EVENT_TIMEOUT, `the exit after SIGTERM\n${cli.stderr()}`);
    t.is(code, 0, cli.stderr());
    t.is(signal, null);
    t.regex(cli.stderr(), /SIGTERM: finishing \d+ request\(s\), then stopping/);
    for (const p of last) await waitForExit(p, 10_000);
    // A new request is refused: the server is gone.
    const after = await attempt(cli.url, '/pid');
    t.is(after.status, 0);
  } finally {
    cli.kill();
  }
});

test('daemon options without --processes are refused', async (t) => {
  const err = await t.throwsAsync(startCli([APP, '--maximum-requests', '5']));
  t.regex(err!.message, /--maximum-requests applies to daemon mode: add --processes N/);
});

const py313Missing = skipUnlessPython(test, PY313, 'start-server --python-home (a 3.13 venv)');
if (!py313Missing) {
  test('start-server --python-home VENV --maximum-requests --lang --locale: the daemons run the venv\'s Python and recycle', async (t) => {
    const venv = path.join(tempDir('pyhost-cli-venv-'), 'venv');
    execFileSync(PY313, ['-m', 'venv', '--without-pip', venv], { timeout: 60_000 });
    const cli = await startCli([APP, '--processes', '1', '--threads', '2', '--python-home', venv, '--maximum-requests', '10', '--lang', 'C.UTF-8', '--locale', 'C.UTF-8']);
    try {
      t.regex(cli.stdout(), new RegExp(`Python ${pythonFacts(PY313).version.replace(/\./g, '\\.')}`));
      const info = await getJson(`${cli.url}/info`);
      t.is(info.prefix, venv);
      t.deepEqual(info.version_info, pythonFacts(PY313).versionInfo);
      t.is(info.env.LANG, 'C.UTF-8');
      t.is(info.env.LC_ALL, 'C.UTF-8');
      // The CLI's daemon group: named after the server, one explicit process (multiprocess).
      t.is(info.environ['mod_wsgi.process_group'], 'localhost:0');
      t.is(info.environ['wsgi.multiprocess'], true);
      const load = new Load(cli.url, 2, '/pid', 60);
      await load.finished();
      t.deepEqual(load.failures, [], load.describe());
      t.true(load.pids.size >= 2, load.describe());
      t.regex(cli.stderr(), /recycling .*maximum-requests 10 reached/);
      cli.child.kill('SIGTERM');
      t.is((await within(cli.exited, EVENT_TIMEOUT, 'the exit after SIGTERM')).code, 0, cli.stderr());
    } finally {
      cli.kill();
    }
  });
}

const asRoot = process.getuid?.() === 0;
const py311Missing = pythonMissing(PY311);
(asRoot && !py311Missing ? test : test.skip)('start-server --user nobody --group daemon --python: the daemons run as that user and group', async (t) => {
  const ids = (what: string[]) => Number(execFileSync('id', what, { encoding: 'utf8' }).trim());
  const cli = await startCli([APP, '--processes', '1', '--threads', '2', '--user', 'nobody', '--group', 'daemon', '--python', PY311]);
  try {
    const info = await getJson(`${cli.url}/info`);
    t.is(info.uid, ids(['-u', 'nobody']));
    t.is(info.gid, Number(execFileSync('getent', ['group', 'daemon'], { encoding: 'utf8' }).split(':')[2]));
    t.is(info.executable, PY311);
    t.regex(info.version, new RegExp('^' + pythonFacts(PY311).version.replace(/\./g, '\\.') + ' '));
  } finally {
    cli.kill();
  }
});

test('daemon processes do not outlive a front that is killed (SIGKILL)', async (t) => {
  const cli = await startCli([APP, '--processes', '2', '--threads', '2', '--display-name', 'pyhost-orphan-check']);
  let daemons: number[] = [];
  try {
    await waitUntil(() => (daemons = childPids(cli.child.pid!).filter((p) => pidAlive(p) && cmdline(p)[0] === 'pyhost-orphan-check')).length === 2, EVENT_TIMEOUT, 'two daemon processes');
    t.false(failed(await attempt(cli.url, '/pid')));
    cli.child.kill('SIGKILL');
    await cli.exited;
    // The front is gone for good: its daemons must notice and exit rather than run on as orphans.
    const left = await waitUntil(() => daemons.every((p) => !pidAlive(p)), 15_000, 'the orphaned daemons to exit').then(
      () => [],
      () => daemons.filter(pidAlive),
    );
    t.deepEqual(left, [], `daemon processes ${left.join(', ')} still run 15 s after their front was killed`);
  } finally {
    cli.kill();
    killDaemons(daemons);
  }
});
