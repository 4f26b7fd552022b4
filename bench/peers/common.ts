/** Small helpers shared by the peers that run as plain child processes. */
import { APPS_DIR, DEBIAN_PYTHON } from '../lib/scenarios.js';
import { run, spawnServer, waitForPort } from '../lib/proc.js';
import { pythonHas, type Requirement } from '../lib/install.js';
import type { RunningPeer, StartOptions } from './types.js';

/** Environment of every Python server: no .pyc writes into the repo, apps importable by module name. */
export function pythonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONPATH: APPS_DIR,
    LANG: process.env.LANG ?? 'C.UTF-8',
    ...extra,
  };
}

/** Spawn a server in its own process group and wait for its port; stop it again if it never answers. */
export async function startProcess(name: string, cmd: string, args: string[], opts: StartOptions, env: NodeJS.ProcessEnv, cwd = APPS_DIR): Promise<RunningPeer> {
  const server = spawnServer(cmd, args, { cwd, env, logFile: opts.logFile });
  try {
    await waitForPort(opts.port, server, name);
  } catch (e) {
    await server.stop();
    throw e;
  }
  return { url: `http://127.0.0.1:${opts.port}`, pgid: server.pid, stop: () => server.stop(), logTail: () => server.logTail() };
}

/** The Debian Python plus the modules a peer needs (Flask is the flask scenario's requirement, checked in run.ts). */
export function debianPythonRequirements(modules: Array<{ module: string; packages: string[]; what: string }>): Requirement[] {
  return [
    { what: DEBIAN_PYTHON, present: async () => (await run(DEBIAN_PYTHON, ['-c', 'pass'], { timeoutMs: 10000 })).code === 0, packages: ['python3'] },
    ...modules.map((m) => ({ what: m.what, present: () => pythonHas(DEBIAN_PYTHON, [m.module]), packages: m.packages })),
  ];
}

/** `python -c "print(version of dist)"`, or "?" */
export async function distVersion(dist: string): Promise<string> {
  const r = await run(DEBIAN_PYTHON, ['-c', `import importlib.metadata as m; print(m.version(${JSON.stringify(dist)}))`], { timeoutMs: 10000 });
  return r.code === 0 ? r.stdout.trim() : '?';
}

export async function debianPythonVersion(): Promise<string> {
  const r = await run(DEBIAN_PYTHON, ['-c', 'import sys; print(sys.version.split()[0])'], { timeoutMs: 10000 });
  return r.code === 0 ? `${r.stdout.trim()} (${DEBIAN_PYTHON})` : '?';
}
