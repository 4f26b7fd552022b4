/**
 * pyhost itself, through its CLI (issue 3), as a child process like every other peer:
 *
 *  - pyhost-embedded: `node bin/pyhost.js start-server APP.py --port P --host 127.0.0.1 --threads 8`
 *    (one Node process, Python embedded in it, %{GLOBAL} by default; the native front, its default).
 *  - pyhost-daemon:   `node bin/pyhost.js start-server APP.py --port P --host 127.0.0.1 --processes 2 --threads 8`
 *    (daemon mode, the same shape as the mod_wsgi daemon peer; on the native front the daemon
 *    processes accept and parse HTTP themselves).
 *  - pyhost-embedded-node, pyhost-daemon-node: the same with `--front node` (node:http parses,
 *    requests cross to Python through the addon or the daemon link).
 *  - pyhost-embedded-base, pyhost-daemon-base: only with $PYHOST_BENCH_BASE_CLI, another build of
 *    pyhost (e.g. the commit before a change; $PYHOST_BENCH_BASE_LABEL names it) run the same way,
 *    for before/after figures taken side by side in one run.
 *
 * Both get `--python /usr/bin/python3.11` when the CLI has that option (and $PYHOST_PYTHON is not
 * set), so pyhost runs the apps on the same Debian CPython build as gunicorn, uWSGI, waitress and
 * mod_wsgi (a pyenv build without PGO/LTO would be slower for reasons that are not pyhost's).
 * 8 threads for embedded mode matches the other threaded peers (the CLI's default is 5); tune it
 * here once the scheduler numbers say otherwise. When bin/pyhost.js does not exist or does not
 * run, the peer is reported as "pyhost: CLI not built" and skipped; when the CLI has no
 * --processes yet, pyhost-daemon is skipped the same way. The rest of the suite runs.
 */
import * as path from 'node:path';
import { DEBIAN_PYTHON, REPO_DIR, type AppSpec } from '../lib/scenarios.js';
import { fileExists } from '../lib/install.js';
import { run } from '../lib/proc.js';
import { pythonEnv, startProcess } from './common.js';
import type { Peer, RunningPeer, StartOptions } from './types.js';

/** The CLI under test: bin/pyhost.js of this repo, or $PYHOST_BENCH_CLI (another build, a stand-in). */
export const CLI = process.env.PYHOST_BENCH_CLI ? path.resolve(process.env.PYHOST_BENCH_CLI) : path.join(REPO_DIR, 'bin', 'pyhost.js');

export type PyhostMode = 'embedded' | 'daemon';
export type PyhostFront = 'native' | 'node';

let helpText: Promise<{ code: number; output: string }> | undefined;
/** `pyhost start-server --help`, once: tells whether the CLI runs at all and which options it has. */
function cliHelp(): Promise<{ code: number; output: string }> {
  helpText ??= run(process.execPath, [CLI, 'start-server', '--help'], { timeoutMs: 20000 });
  return helpText;
}

/** Set by prepare(): the CLI accepts --python, so pyhost runs on the same Debian Python as every other peer. */
let samePython = false;

/** Set by prepare(): the CLI has --front (without it, the -node peers are skipped). */
let hasFront = false;

/** Another CLI to compare with (before/after), or undefined. */
export const BASE_CLI = process.env.PYHOST_BENCH_BASE_CLI ? path.resolve(process.env.PYHOST_BENCH_BASE_CLI) : undefined;

export function commandLine(mode: PyhostMode, app: AppSpec, opts: StartOptions, front?: PyhostFront, cli = CLI): string[] {
  const args = [cli, 'start-server', app.file, '--port', String(opts.port), '--host', '127.0.0.1'];
  if (samePython) args.push('--python', DEBIAN_PYTHON);
  if (mode === 'daemon') args.push('--processes', String(opts.processes ?? 2));
  args.push('--threads', String(opts.threads ?? 8));
  if (front) args.push('--front', front);
  return args;
}

export function start(mode: PyhostMode, app: AppSpec, opts: StartOptions, front?: PyhostFront, cli = CLI): Promise<RunningPeer> {
  return startProcess(`pyhost ${mode}`, process.execPath, commandLine(mode, app, opts, front, cli), opts, pythonEnv(), app.dir);
}

/** `front` undefined: the CLI's default front (native); 'node': --front node. */
function makePeer(mode: PyhostMode, front?: 'node'): Peer {
  const nodeFront = front === 'node';
  return {
    id: `pyhost-${mode}${nodeFront ? '-node' : ''}`,
    label: (mode === 'embedded' ? 'pyhost embedded' : 'pyhost daemon (2x8)') + (nodeFront ? ', Node front' : ''),
    setup:
      mode === 'embedded'
        ? `pyhost start-server --threads 8${nodeFront ? ' --front node' : ''}: one Node process, CPython embedded, %{GLOBAL}, ` +
          (nodeFront ? 'node:http parses, requests cross the addon' : 'native front (HTTP parsed in C++ by the thread that runs the request)')
        : `pyhost start-server --processes 2 --threads 8${nodeFront ? ' --front node' : ''}: daemon process group, ` +
          (nodeFront ? 'behind the Node front' : 'the daemon processes accept and parse HTTP themselves on one listening socket'),
    supports: () => true,
    prepare: async () => {
      if (!fileExists(CLI)) return { ok: false, reason: `pyhost: CLI not built (${path.relative(process.cwd(), CLI) || CLI} is missing; build it first)` };
      const help = await cliHelp();
      if (help.code !== 0) {
        const tail = help.output.trim().split('\n').slice(-3).join(' | ');
        return { ok: false, reason: `pyhost: CLI not built (\`pyhost start-server --help\` exits ${help.code}: ${tail}; run npm run build:ts)` };
      }
      if (mode === 'daemon' && !/--processes\b/.test(help.output)) {
        return { ok: false, reason: 'pyhost: this CLI has no --processes option yet (daemon mode not built)' };
      }
      hasFront = /--front\b/.test(help.output);
      if (nodeFront && !hasFront) return { ok: false, reason: 'pyhost: this CLI has no --front option (one front only)' };
      samePython = /--python\b/.test(help.output) && !process.env.PYHOST_PYTHON;
      return { ok: true };
    },
    start: (app, opts) => start(mode, app, opts, front),
    versions: async () => {
      const r = fileExists(CLI) ? await run(process.execPath, [CLI, '--version'], { timeoutMs: 10000 }) : undefined;
      return {
        pyhost: r && r.code === 0 ? r.stdout.trim() : '?',
        python: samePython ? `${DEBIAN_PYTHON} (--python)` : (process.env.PYHOST_PYTHON ?? 'its default build'),
      };
    },
  };
}

export const embedded = makePeer('embedded');
export const daemon = makePeer('daemon');
export const embeddedNode = makePeer('embedded', 'node');
export const daemonNode = makePeer('daemon', 'node');

/** `mode` with BASE_CLI (its own default front), labelled $PYHOST_BENCH_BASE_LABEL or with its directory. */
function makeBasePeer(mode: PyhostMode, cli: string): Peer {
  const where = process.env.PYHOST_BENCH_BASE_LABEL ?? path.basename(path.dirname(path.dirname(cli)));
  return {
    id: `pyhost-${mode}-base`,
    label: `${mode === 'embedded' ? 'pyhost embedded' : 'pyhost daemon (2x8)'}, before (${where})`,
    setup: `the same command with ${cli} ($PYHOST_BENCH_BASE_CLI): before/after in one run`,
    supports: () => true,
    prepare: async () => {
      if (!fileExists(cli)) return { ok: false, reason: `$PYHOST_BENCH_BASE_CLI ${cli} does not exist` };
      return { ok: true };
    },
    start: (app, opts) => start(mode, app, opts, undefined, cli),
    versions: async () => ({ pyhost: cli }),
  };
}

export const baseEmbedded = BASE_CLI ? makeBasePeer('embedded', BASE_CLI) : undefined;
export const baseDaemon = BASE_CLI ? makeBasePeer('daemon', BASE_CLI) : undefined;
