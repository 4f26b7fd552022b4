/**
 * The project as a user gets it: `npm pack` of the project with a chosen set of prebuilds,
 * installed with `npm install TARBALL` into a fresh directory, optionally with no compiler on
 * PATH; and the installed `pyhost` command run from there.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBuild, type BuildPart } from '../../scripts/builds.js';
import { REPO_ROOT } from './child.js';

const NPM = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());

export interface Ran {
  code: number | null;
  output: string;
}

/** Runs a command to completion (never rejects), stdout and stderr interleaved in `output`. */
export function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** C and C++ compilers and make, by the names they go by (gcc-12, x86_64-linux-gnu-g++-12, ...). */
const COMPILER_NAME = /^(?:[\w-]+-linux-gnu-)?(?:cc|c\+\+|gcc|g\+\+|clang|clang\+\+|c89|c99|tcc|make|gmake)(?:-[\d.]+)?$/;

/**
 * A PATH of one directory holding every command of this PATH (links, first one wins, node and
 * npm included) except compilers and make: a machine with no build tools.
 */
export function pathWithoutCompiler(root: string): string {
  const bin = path.join(root, 'bin-without-compiler');
  fs.mkdirSync(bin, { recursive: true });
  const dirs = [path.dirname(process.execPath), path.dirname(NPM), ...(process.env.PATH ?? '').split(path.delimiter)];
  for (const dir of dirs.filter(Boolean)) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (COMPILER_NAME.test(name) || fs.existsSync(path.join(bin, name))) continue;
      fs.symlinkSync(path.join(dir, name), path.join(bin, name));
    }
  }
  if (!fs.existsSync(path.join(bin, 'npm'))) fs.symlinkSync(NPM, path.join(bin, 'npm'));
  return bin;
}

/** The commands found on PATH `pathValue` among `names`. */
export function commandsOnPath(pathValue: string, names: string[]): string[] {
  return names.filter((n) => spawnSync('sh', ['-c', `command -v ${n}`], { env: { PATH: pathValue } }).status === 0);
}

/** The environment of a user with `PATH` and no compiler settings or pyhost variables. */
export function userEnv(pathValue: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathValue, ...extra };
  for (const k of ['CC', 'CXX', 'PYHOST_PYTHON', 'npm_config_node_gyp', 'npm_config_nodedir', 'PYHOST_BUILD_PART', 'PYHOST_PYTHON_INFO']) {
    if (!(k in extra)) delete env[k];
  }
  for (const k of Object.keys(env)) if (k.startsWith('npm_') && !(k in extra)) delete env[k];
  return env;
}

function copy(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true });
}

/**
 * Packs the project (a staged copy: the files package.json lists, TypeScript compiled fresh,
 * and of the builds only the Python tags `tags` plus the parts that link no Python) with
 * `npm pack`. Returns the tarball and the files npm put in it.
 */
export async function packProject(root: string, tags: string[]): Promise<{ tarball: string; files: string[] }> {
  const stage = path.join(root, 'stage');
  fs.mkdirSync(stage, { recursive: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { files: string[] };
  for (const entry of [...pkg.files.filter((f) => !f.startsWith('!') && !['dist/', 'prebuilds/'].includes(f)), 'package.json', 'README.md']) {
    copy(path.join(REPO_ROOT, entry), path.join(stage, entry));
  }
  const tsc = await run(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--outDir', path.join(stage, 'dist')], { cwd: REPO_ROOT });
  if (tsc.code !== 0) throw new Error(`tsc failed:\n${tsc.output}`);
  const store = path.join(stage, 'prebuilds', `${process.platform}-${process.arch}`);
  const parts: [BuildPart, string | undefined][] = [...tags.map((t): [BuildPart, string] => ['python', t]), ['front', undefined], ['preload', undefined]];
  for (const [part, tag] of parts) {
    const build = findBuild(REPO_ROOT, part, tag);
    if (!build) throw new Error(`no ${part} build ${tag ?? ''} in ${REPO_ROOT}/prebuilds to pack`);
    for (const file of [build.addon, build.manifestFile, build.daemon].filter((f): f is string => Boolean(f))) {
      copy(file, path.join(store, path.basename(file)));
    }
  }
  const packed = await run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', root], { cwd: stage });
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.output}`);
  const report = JSON.parse(packed.output.slice(packed.output.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  return { tarball: path.join(root, report[0].filename), files: report[0].files.map((f) => f.path) };
}

/** `npm install TARBALL` into a new directory `dir` (install scripts' output shown). */
export async function installTarball(dir: string, tarball: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'pyhost-user', private: true }) + '\n');
  return run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball], { cwd: dir, env, timeoutMs: 600_000 });
}

/** Where `npm install` put the package in `dir`. */
export function installedPackage(dir: string): string {
  return path.join(dir, 'node_modules', 'pyhost');
}

export function tempRoot(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
