/**
 * Daemon process groups with their own Python (issue 4): venvs made with `python -m venv` as
 * pythonHome (plain, and --system-site-packages importing Debian's flask), Python 3.11 and 3.13
 * groups served from one front at once, a venv of the wrong version refused, and
 * restrictEmbedded (the front never initialises Python; embedded groups and mounts refused).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PyhostError } from '../ts/index.js';
import { describeChild, runChild } from './helpers/child.js';
import { APP, daemonSites, getJson } from './helpers/daemon.js';
import { request } from './helpers/http.js';
import { minorOf, PY311, PY311_PYENV, PY313, pythonFacts, skipUnlessPython } from './helpers/pythons.js';
import { serve, startEngine, tempDir } from './helpers/wsgi-server.js';

const site = daemonSites(test);

/** `python -m venv [--system-site-packages] DIR` (no pip: faster, and nothing is installed). */
function makeVenv(python: string, systemSite: boolean): string {
  const dir = path.join(tempDir('pyhost-daemon-venv-'), 'venv');
  execFileSync(python, ['-m', 'venv', '--without-pip', ...(systemSite ? ['--system-site-packages'] : []), dir], { timeout: 60_000 });
  return dir;
}

/** The venv's own site-packages directory (lib/pythonX.Y/site-packages). */
function venvSitePackages(venv: string, python: string): string {
  return path.join(venv, 'lib', `python${minorOf(pythonFacts(python).version)}`, 'site-packages');
}

const py311Missing = skipUnlessPython(test, PY311, 'venvs of Debian Python 3.11');
if (!py311Missing) {
  test('a venv made with python3.11 -m venv works as pythonHome: sys.prefix is the venv, its site-packages on sys.path', async (t) => {
    const venv = makeVenv(PY311, false);
    const sp = venvSitePackages(venv, PY311);
    // A module that exists only in the venv.
    fs.writeFileSync(path.join(sp, 'only_in_venv.py'), '__version__ = "venv-1"\n');
    const s = await site({ group: { processes: 1, threads: 2, pythonHome: venv } });
    const info = await getJson(`${s.url}/info?mods=only_in_venv,flask`, s.logs);
    const base = pythonFacts(PY311);
    t.is(info.prefix, venv);
    t.is(info.base_prefix, base.prefix);
    t.deepEqual(info.version_info, base.versionInfo);
    t.true(info.path.includes(sp), JSON.stringify(info.path));
    t.true(info.site_packages.includes(sp), JSON.stringify(info.site_packages));
    t.is(info.modules.only_in_venv.file, path.join(sp, 'only_in_venv.py'));
    t.is(info.modules.only_in_venv.version, 'venv-1');
    // A plain venv does not see the system's site-packages (Debian's flask is there).
    t.truthy(info.modules.flask.error, JSON.stringify(info.modules.flask));
    t.false(info.path.some((p: string) => p.includes('dist-packages')), JSON.stringify(info.path));
  });

  test('a --system-site-packages venv as pythonHome imports Debian\'s flask', async (t) => {
    const venv = makeVenv(PY311, true);
    const sp = venvSitePackages(venv, PY311);
    const s = await site({ group: { processes: 1, threads: 2, pythonHome: venv, python: PY311 } });
    const info = await getJson(`${s.url}/info?mods=flask`, s.logs);
    t.is(info.prefix, venv);
    t.true(info.path.includes(sp), JSON.stringify(info.path));
    t.truthy(info.modules.flask.file, JSON.stringify(info.modules.flask));
    t.regex(info.modules.flask.file, /^\/usr\/lib\/python3\/dist-packages\/flask\//);
    // The venv's own site-packages comes before the system's.
    const iv = info.path.indexOf(sp);
    const is = info.path.findIndex((p: string) => p.includes('dist-packages'));
    t.true(iv >= 0 && is > iv, JSON.stringify(info.path));
  });
}

const py313Missing = skipUnlessPython(test, PY313, 'daemon groups on Python 3.13');
if (!py311Missing && !py313Missing) {
  test('daemon groups on Python 3.11 and 3.13 serve from one restrictEmbedded front at once', async (t) => {
    const { engine, logs } = await startEngine({ restrictEmbedded: true });
    const servers: { close(): Promise<void> }[] = [];
    try {
      t.is(engine.pythonVersion, '');
      const g11 = engine.daemonGroup('py311', { processes: 2, threads: 4, python: PY311 });
      const g13 = engine.daemonGroup('py313', { processes: 2, threads: 4, python: PY313 });
      await Promise.all([g11.start(), g13.start()]);
      t.is(g11.settings.pythonVersion, pythonFacts(PY311).version);
      t.is(g13.settings.pythonVersion, pythonFacts(PY313).version);
      const m11 = engine.mount(APP, { processGroup: 'py311', mountPoint: '/a' });
      const m13 = engine.mount(APP, { processGroup: 'py313', mountPoint: '/b' });
      const s = await serve((req, res) => (req.url!.startsWith('/a') ? m11 : m13)(req, res));
      servers.push(s);
      // Interleaved and concurrent: each answer comes from its own group's Python.
      const paths = Array.from({ length: 40 }, (_, i) => (i % 2 ? '/b/info' : '/a/info'));
      const answers = await Promise.all(paths.map((p) => request(s.url + p)));
      const seen = { a: new Set<string>(), b: new Set<string>(), pidsA: new Set<number>(), pidsB: new Set<number>() };
      for (const [i, r] of answers.entries()) {
        t.is(r.status, 200, `${paths[i]}: ${r.text().slice(0, 300)}\n${logs.text()}`);
        if (r.status !== 200) continue;
        const info = r.json();
        const a = paths[i].startsWith('/a');
        (a ? seen.a : seen.b).add(info.version);
        (a ? seen.pidsA : seen.pidsB).add(info.pid);
        t.is(info.environ['mod_wsgi.process_group'], a ? 'py311' : 'py313');
      }
      t.deepEqual([...seen.a].map((v) => v.split(' ')[0]), [pythonFacts(PY311).version]);
      t.deepEqual([...seen.b].map((v) => v.split(' ')[0]), [pythonFacts(PY313).version]);
      t.false([...seen.pidsA].some((p) => seen.pidsB.has(p)));
    } finally {
      for (const s of servers) await s.close();
      await engine.close();
    }
  });

  test('a Python 3.13 venv as pythonHome (no python option) runs its group on 3.13', async (t) => {
    const venv = makeVenv(PY313, false);
    const s = await site({ group: { processes: 1, threads: 2, pythonHome: venv } });
    t.is(s.group.settings.pythonVersion, pythonFacts(PY313).version);
    const info = await getJson(`${s.url}/info`, s.logs);
    t.deepEqual(info.version_info, pythonFacts(PY313).versionInfo);
    t.is(info.prefix, venv);
    t.true(info.path.includes(venvSitePackages(venv, PY313)));
  });

  test('a venv of another Python version is refused with both versions named', async (t) => {
    const venv = makeVenv(PY313, false);
    const { engine } = await startEngine({ restrictEmbedded: true });
    try {
      const err = t.throws(() => engine.daemonGroup('mismatch', { python: PY311, pythonHome: venv }), { instanceOf: PyhostError });
      t.is((err as PyhostError).code, 'ERR_PYTHON_VERSION_MISMATCH');
      t.true(err!.message.includes(venv), err!.message);
      t.true(err!.message.includes(minorOf(pythonFacts(PY313).version)), err!.message);
      t.true(err!.message.includes(pythonFacts(PY311).version), err!.message);
    } finally {
      await engine.close();
    }
  });
}

if (!py313Missing) {
  const SINGLEPHASE = path.join(path.dirname(APP), 'singlephase.wsgi');

  test('inside a daemon, an own-GIL group refusing a single-phase extension falls back to %{GLOBAL} with one warning', async (t) => {
    const s = await site({
      script: SINGLEPHASE,
      group: { processes: 1, threads: 2, python: PY313 },
      mount: { group: 'isolated', groupOptions: { gil: 'own' } },
    });
    const a = await getJson(`${s.url}/`, s.logs);
    const b = await getJson(`${s.url}/`, s.logs);
    t.true(a.main, 'runs in the main interpreter after the fallback');
    t.is(a.module, '_testsinglephase');
    t.is(a.application_group, 'isolated');
    t.is(b.pid, a.pid);
    const warnings = s.logs.records.filter((r) => r.level === 'warn' && r.message.includes('_testsinglephase'));
    t.is(warnings.length, 1, s.logs.text());
    t.regex(warnings[0]?.message ?? '', /%\{GLOBAL\}/);
  });

  test("inside a daemon, fallback: 'error' answers 500 and logs the ImportError with the %{GLOBAL} advice, as embedded mode", async (t) => {
    const s = await site({
      script: SINGLEPHASE,
      group: { processes: 1, threads: 2, python: PY313, fallback: 'error' },
      mount: { group: 'isolated', groupOptions: { gil: 'own' } },
    });
    const r = await request(`${s.url}/`);
    t.is(r.status, 500);
    const rec = await s.logs.waitFor((x) => x.level === 'error' && x.message.includes('_testsinglephase'), 10_000);
    t.regex(rec.message, /ImportError/);
    // Embedded mode says what to do (see Group.handleRefusal); a daemon should say the same.
    t.regex(rec.message, /%\{GLOBAL\}/, `the daemon's log line: ${rec.message}`);
    t.is(s.logs.records.filter((x) => x.level === 'warn' && x.message.includes('now runs in the main interpreter')).length, 0);
  });
}

test('restrictEmbedded: the front never initialises Python; embedded groups and mounts are refused', async (t) => {
  const r = await runChild(`
import fs from 'node:fs';
import http from 'node:http';
const APP = ${JSON.stringify(APP)};
const engine = await Engine.start({ restrictEmbedded: true, logger: () => {} });
const codes: Record<string, unknown> = {};
const attempt = (name: string, fn: () => unknown) => {
  try { fn(); codes[name] = 'no error'; } catch (e: any) { codes[name] = { code: e.code, message: e.message }; }
};
attempt('group', () => engine.group('tenant'));
attempt('global', () => engine.group('%{GLOBAL}'));
attempt('mount', () => engine.mount(APP));
attempt('mountGroup', () => engine.mount(APP, { group: '%{GLOBAL}' }));
attempt('native', () => engine.native);
const dg = engine.daemonGroup('site', { processes: 1, threads: 2 });
await dg.start();
const handler = engine.mount(APP, { processGroup: 'site' });
const server = http.createServer(handler);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const port = (server.address() as any).port;
const res = await fetch('http://127.0.0.1:' + port + '/info');
const info = await res.json();
const maps = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n');
report({
  codes,
  status: res.status,
  daemonPid: info.pid,
  daemonVersion: info.version,
  pythonVersion: engine.pythonVersion,
  restricted: engine.restrictEmbedded,
  libpython: maps.filter((l) => /libpython/.test(l)),
  addon: maps.filter((l) => /pyhost\\.node/.test(l)),
  daemonMaps: fs.readFileSync('/proc/' + info.pid + '/maps', 'utf8').split('\\n').filter((l) => /libpython/.test(l)).length,
});
server.close();
await engine.close();
`);
  t.is(r.code, 0, describeChild(r));
  const rep = r.reports[0] as any;
  t.truthy(rep, describeChild(r));
  t.is(rep.status, 200);
  t.true(rep.restricted);
  t.is(rep.pythonVersion, '');
  // The daemon has libpython; the front does not (nor the addon that would load it).
  t.true(rep.daemonMaps > 0);
  t.deepEqual(rep.libpython, []);
  t.deepEqual(rep.addon, []);
  t.regex(rep.daemonVersion, new RegExp('^' + pythonFacts(PY311_PYENV).version.replace(/\./g, '\\.') + ' '));
  for (const k of ['group', 'global', 'mount', 'mountGroup', 'native']) {
    t.is(rep.codes[k]?.code, 'ERR_EMBEDDED_RESTRICTED', `${k}: ${JSON.stringify(rep.codes[k])}`);
    t.regex(rep.codes[k]?.message ?? '', /restrictEmbedded|daemon process group/);
  }
});

