/**
 * `pyhost bench APP`: compares application group kinds on the user's own WSGI application:
 * %{GLOBAL} (the main interpreter), a shared-GIL sub-interpreter, own-GIL sub-interpreters
 * (Python 3.12+; two replicas, so they can use two cores) and daemon mode (two processes). Each
 * kind runs in a fresh server process under the same load; prints a table and a recommendation.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describePython } from '../../scripts/python.js';
import { CliError, formatHelp, parseArgs, type OptionSpec } from './args.js';
import type { LoadResult } from './loadgen.js';

const OPTIONS: Record<string, OptionSpec> = {
  python: { type: 'string', help: 'Python executable (default: $PYHOST_PYTHON or the default build)', metavar: 'PATH' },
  path: { type: 'string', help: 'URL path to request (default /)', metavar: 'PATH' },
  duration: { type: 'int', min: 1, max: 600, help: 'seconds of load per kind (default 5)', metavar: 'SECONDS' },
  connections: { type: 'int', min: 1, max: 1024, help: 'concurrent connections (default 16)' },
  threads: { type: 'int', min: 1, max: 256, help: 'worker threads per group or process (default 4)' },
  kinds: { type: 'string', help: 'comma-separated: global,shared,own,daemon (default: all that apply)', metavar: 'LIST' },
  'python-path': { type: 'string', repeat: true, help: 'add a directory to sys.path', metavar: 'DIR' },
  help: { type: 'flag', help: 'show this help' },
};

interface Kind {
  name: 'global' | 'shared' | 'own' | 'daemon';
  label: string;
  args: string[];
}

interface Outcome {
  kind: Kind;
  result?: LoadResult;
  failure?: string;
  fallback?: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const ext = path.extname(fileURLToPath(import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`the server exited (code ${child.exitCode})`));
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.destroy();
        resolve();
      });
      sock.on('error', () => {
        if (Date.now() > deadline) reject(new Error('the server did not start listening'));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

function hasWrk(): Promise<boolean> {
  return new Promise((resolve) => execFile('wrk', ['--version'], (err, stdout, stderr) => resolve(/wrk/.test(stdout + stderr))));
}

function parseMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

async function load(url: string, connections: number, seconds: number, wrk: boolean): Promise<LoadResult> {
  if (wrk) {
    const out: string = await new Promise((resolve, reject) =>
      execFile('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', url], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
    const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    const lat = (q: string) => {
      const m = new RegExp(`${q}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
      return m ? parseMs(m[1], m[2]) : 0;
    };
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
    return { requests: total, errors, rps, p50: lat('50'), p99: lat('99') };
  }
  const child = spawn(process.execPath, [...process.execArgv, path.join(here, `loadgen${ext}`), url, String(connections), String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  await new Promise((r) => child.on('close', r));
  return JSON.parse(out) as LoadResult;
}

async function runKind(kind: Kind, app: string, common: string[], urlPath: string, connections: number, seconds: number, wrk: boolean): Promise<Outcome> {
  const port = await freePort();
  const cli = path.join(here, '..', `cli${ext}`);
  const child = spawn(process.execPath, [...process.execArgv, cli, 'start-server', app, '--host', '127.0.0.1', '--port', String(port), ...common, ...kind.args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (c) => (log += c));
  try {
    await waitForPort(port, child, 60000);
    const url = `http://127.0.0.1:${port}${urlPath}`;
    await load(url, Math.min(4, connections), 1, wrk); // warm-up: imports, first requests
    const result = await load(url, connections, seconds, wrk);
    const fallback = /extension module (\S+) does not support sub-interpreters/.exec(log)?.[1];
    if (result.requests === 0) return { kind, failure: 'no request completed', fallback };
    return { kind, result, fallback };
  } catch (err) {
    return { kind, failure: `${(err as Error).message}${log ? `: ${log.trim().split('\n').slice(-3).join(' | ')}` : ''}` };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        r(undefined);
      }, 20000);
      child.on('close', () => {
        clearTimeout(t);
        r(undefined);
      });
    });
  }
}

function recommendation(outcomes: Outcome[]): string {
  const ok = outcomes.filter((o) => o.result && o.result.errors === 0);
  if (!ok.length) return 'no kind served the application without errors: check the server log (run pyhost start-server APP)';
  const best = ok.reduce((a, b) => (b.result!.rps > a.result!.rps ? b : a));
  const global = ok.find((o) => o.kind.name === 'global');
  const parts = [`${best.kind.label} is fastest for this app (${Math.round(best.result!.rps)} requests/s`];
  parts[0] += global && best !== global ? `, ${(best.result!.rps / global.result!.rps).toFixed(1)}x %{GLOBAL})` : ')';
  const fell = outcomes.filter((o) => o.fallback);
  for (const o of fell) parts.push(`${o.fallback} forced %{GLOBAL} in the ${o.kind.label} run`);
  const failed = outcomes.filter((o) => o.failure || (o.result && o.result.errors > 0));
  for (const o of failed) parts.push(`${o.kind.label}: ${o.failure ?? `${o.result!.errors} errors`}`);
  return parts.join('; ');
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { options: o, positional } = parseArgs(argv, OPTIONS);
  if (o.help) {
    process.stdout.write(formatHelp('pyhost bench APP [options]', OPTIONS) + '\n');
    return 0;
  }
  if (positional.length !== 1) throw new CliError('expected one APP (a WSGI script)');
  const app = path.resolve(positional[0]);
  if (!fs.existsSync(app)) throw new CliError(`WSGI script ${positional[0]} does not exist`);
  const python = (o.python as string | undefined) ?? process.env.PYHOST_PYTHON;
  let version = '';
  try {
    version = describePython(python ?? 'python3').version;
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const [maj, min] = version.split('.').map(Number);
  const threads = String((o.threads as number | undefined) ?? 4);
  const all: Kind[] = [
    { name: 'global', label: '%{GLOBAL}', args: ['--application-group', '%{GLOBAL}', '--threads', threads] },
    { name: 'shared', label: 'shared-GIL sub-interpreter', args: ['--application-group', 'bench', '--gil', 'shared', '--threads', threads] },
    { name: 'own', label: 'own-GIL sub-interpreters x2', args: ['--application-group', 'bench', '--gil', 'own', '--replicas', '2', '--threads', threads] },
    { name: 'daemon', label: 'daemon mode, 2 processes', args: ['--processes', '2', '--threads', threads] },
  ];
  const wanted = o.kinds ? String(o.kinds).split(',') : all.map((k) => k.name);
  const ownOk = maj > 3 || (maj === 3 && min >= 12);
  const kinds = all.filter((k) => wanted.includes(k.name) && (k.name !== 'own' || ownOk));
  const common = [...(python ? ['--python', python] : []), ...((o['python-path'] as string[] | undefined) ?? []).flatMap((p) => ['--python-path', p]), '--log-level', 'warn'];
  const wrk = await hasWrk();
  const seconds = (o.duration as number | undefined) ?? 5;
  const connections = (o.connections as number | undefined) ?? 16;
  process.stdout.write(`pyhost bench: ${app} on Python ${version}, ${connections} connections, ${seconds} s per kind, load from ${wrk ? 'wrk' : 'a Node load generator'}\n`);
  if (!ownOk && wanted.includes('own')) process.stdout.write(`(own-GIL sub-interpreters need Python 3.12+: skipped)\n`);
  const outcomes: Outcome[] = [];
  for (const k of kinds) {
    process.stdout.write(`  ${k.label}...\n`);
    outcomes.push(await runKind(k, app, common, (o.path as string | undefined) ?? '/', connections, seconds, wrk));
  }
  const rows = [['kind', 'requests/s', 'p50 ms', 'p99 ms', 'errors', 'note']];
  for (const out of outcomes) {
    const r = out.result;
    rows.push([
      out.kind.label,
      r ? Math.round(r.rps).toString() : '-',
      r ? r.p50.toFixed(2) : '-',
      r ? r.p99.toFixed(2) : '-',
      r ? String(r.errors) : '-',
      out.failure ?? (out.fallback ? `${out.fallback} forced %{GLOBAL}` : ''),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n');
  process.stdout.write(`\nrecommendation: ${recommendation(outcomes)}\n`);
  return outcomes.some((x) => x.failure) ? 1 : 0;
}
