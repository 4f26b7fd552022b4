/**
 * The mod_wsgi directives that change the interpreter or the request: WSGIPythonOptimize,
 * WSGIPythonHashSeed, WSGIDontWriteBytecode and WSGIPythonWarnings (every Python the site starts,
 * embedded and daemon), WSGIMapHEADToGET, against Apache + mod_wsgi 4.9; and mod_wsgi 6's
 * WSGIPerInterpreterGIL (not in 4.9: pyhost only), which gives sub-interpreter groups their own
 * GIL on Python 3.12+ and is accepted without effect, with a warning, on 3.11.
 */
import test from 'ava';
import path from 'node:path';
import { apacheAvailable } from './helpers/apache.js';
import { startPair, type AccessPair } from './helpers/access-fixtures.js';
import { copyApps, freePorts, send, startPyhost, worldTempDir, writeFile } from './helpers/config-serve.js';
import { PY313 } from './helpers/pythons.js';
import fs from 'node:fs';

type Mode = 'embedded' | 'daemon';
const available = apacheAvailable();
const pairs: Partial<Record<Mode, AccessPair>> = {};
let setupError: Error | undefined;
const dir = worldTempDir('pyhost-directives-');
const apps = copyApps(path.join(dir, 'apps'));

test.before(async () => {
  if (!available) return;
  const site = [
    'WSGIPythonOptimize 1', 'WSGIPythonHashSeed 12345', 'WSGIDontWriteBytecode On',
    'WSGIPythonWarnings ignore::DeprecationWarning', 'WSGIPythonWarnings error::UserWarning',
    '<IfDefine DAEMON>', '  WSGIDaemonProcess interp processes=1 threads=2', '  WSGIProcessGroup interp', '</IfDefine>',
    `WSGIScriptAlias /app ${apps}/interp.wsgi`,
    '<Location /app/head>', '  WSGIMapHEADToGET On', '</Location>', '<Location /app/nohead>', '  WSGIMapHEADToGET Off', '</Location>',
  ].join('\n');
  const results = await Promise.allSettled((['embedded', 'daemon'] as const).map(async (mode) => {
    pairs[mode] = await startPair(dir, `directives-${mode}`, site, mode === 'daemon' ? ['DAEMON'] : []);
  }));
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) setupError = failed.reason as Error;
});

test.after.always(async () => {
  await Promise.all(Object.values(pairs).flatMap((p) => [p.apache.stop(), p.pyhost.stop()]));
});

for (const mode of ['embedded', 'daemon'] as const) {
  test(`${mode}: WSGIPythonOptimize, WSGIPythonHashSeed, WSGIDontWriteBytecode, WSGIPythonWarnings as in mod_wsgi`, async (t) => {
    if (!available) return void t.pass('apache2 + mod_wsgi not installed');
    if (setupError) throw setupError;
    const p = pairs[mode]!;
    const [a, b] = await Promise.all([send(p.apache.port, { target: '/app/x' }), send(p.pyhostPort, { target: '/app/x' })]);
    const ja = JSON.parse(a.body.toString()) as Record<string, unknown>;
    const jb = JSON.parse(b.body.toString()) as Record<string, unknown>;
    delete ja.gil;
    delete jb.gil;
    if (mode === 'daemon') {
      // Intended difference (docs/mod_wsgi-reference.md): mod_wsgi removes PYTHONHASHSEED from
      // os.environ once Python has read it; a pyhost daemon process keeps it (same seed, same hashes).
      t.is(jb.PYTHONHASHSEED, '12345');
      delete jb.PYTHONHASHSEED;
      delete ja.PYTHONHASHSEED;
    }
    t.deepEqual(jb, ja, 'pyhost matches mod_wsgi');
    t.like(ja, { optimize: 1, dont_write_bytecode: 1, warnoptions: ['ignore::DeprecationWarning', 'error::UserWarning'] });
    t.false('PYTHONHASHSEED' in ja && ja.PYTHONHASHSEED !== undefined && ja.PYTHONHASHSEED !== null, 'mod_wsgi removes PYTHONHASHSEED');
  });

  test(`${mode}: WSGIMapHEADToGET On gives the application GET, Off and the default leave HEAD`, async (t) => {
    if (!available) return void t.pass('apache2 + mod_wsgi not installed');
    if (setupError) throw setupError;
    const p = pairs[mode]!;
    for (const [target, want] of [['/app/head', 'GET'], ['/app/nohead', 'HEAD'], ['/app/x', 'HEAD']] as const) {
      const [a, b] = await Promise.all([send(p.apache.port, { method: 'HEAD', target }), send(p.pyhostPort, { method: 'HEAD', target })]);
      t.is(a.header('x-method'), want, `mod_wsgi ${target}`);
      t.is(b.header('x-method'), want, `pyhost ${target}`);
      t.is(b.body.length, 0, 'no body for HEAD');
    }
  });
}

test('WSGIPerInterpreterGIL On: own GIL for sub-interpreter groups on Python 3.13 (shared without it); accepted with a warning on 3.11', async (t) => {
  const [p13, p13off, p11] = await freePorts(3);
  const conf = (port: number, on = true) => writeFile(dir, `gil-${port}.conf`, [
    `Listen 127.0.0.1:${port}`, 'ServerName 127.0.0.1', ...(on ? ['WSGIPerInterpreterGIL On'] : []),
    `WSGIScriptAlias /sub ${apps}/interp.wsgi application-group=sub`,
  ].join('\n'));
  if (fs.existsSync(PY313)) {
    const [on, off] = await Promise.all([
      startPyhost({ config: conf(p13!), ports: [p13!], python: PY313 }),
      startPyhost({ config: conf(p13off!, false), ports: [p13off!], python: PY313 }),
    ]);
    try {
      t.is((JSON.parse((await send(p13!, { target: '/sub' })).body.toString()) as { gil: string }).gil, 'own');
      t.is((JSON.parse((await send(p13off!, { target: '/sub' })).body.toString()) as { gil: string }).gil, 'shared');
    } finally {
      await Promise.all([on.stop(), off.stop()]);
    }
  } else t.log(`no ${PY313}: the 3.13 half is skipped`);
  const s11 = await startPyhost({ config: conf(p11!), ports: [p11!] });
  try {
    t.is((await send(p11!, { target: '/sub' })).status, 200);
    t.regex(s11.stderr(), /WSGIPerInterpreterGIL On: Python 3\.11\.\d+ \(embedded\) has no per-interpreter GIL/);
  } finally {
    await s11.stop();
  }
});
