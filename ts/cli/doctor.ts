/**
 * `pyhost doctor [--python P] [--python-home V] [--python-path DIR]... [SCRIPT | --config FILE]
 * [--json]`: checks what `pyhost start-server` with the same options needs, and explains each
 * finding on one line with its fix: which Python and which build, shared libpython and headers,
 * a venv's version, pythonHome and pythonPath, the daemon program, C extensions in %{GLOBAL},
 * the app, and the extension modules that refuse sub-interpreters. With --config, what
 * check-config says, then the same per process group (embedded and each daemon group).
 * Exit status 0 when it would run (warnings allowed), 1 otherwise.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readDefault } from '../../scripts/builds.js';
import { ConfigError } from '../errors.js';
import { packageRoot } from '../native/loader.js';
import { CliError, formatHelp, parseArgs, type OptionSpec } from './args.js';
import { staticChecks, type Check, type SettingNames, type Target } from './doctor-checks.js';
import { runtimeChecks } from './doctor-runtime.js';

const OPTIONS: Record<string, OptionSpec> = {
  python: { type: 'string', help: 'the Python to check (default: as start-server chooses it)', metavar: 'PATH' },
  'python-home': { type: 'string', help: 'venv or prefix of the Python (like WSGIPythonHome)', metavar: 'DIR' },
  'python-path': { type: 'string', repeat: true, help: 'a directory the app adds to sys.path (repeatable)', metavar: 'DIR' },
  'callable-object': { type: 'string', help: 'name of the WSGI callable (default application)', metavar: 'NAME' },
  config: { type: 'string', help: 'check a mod_wsgi (Apache) configuration file', metavar: 'FILE' },
  define: { type: 'string', repeat: true, help: 'with --config: define NAME (like httpd -D NAME)', metavar: 'NAME[=VALUE]' },
  json: { type: 'flag', help: 'print one JSON object instead of lines' },
  help: { type: 'flag', help: 'show this help' },
};
const USAGE = 'pyhost doctor [SCRIPT | --config FILE] [options]';

const CLI_NAMES: SettingNames = { python: '--python', pythonHome: '--python-home', pythonPath: '--python-path' };

/** The Python used when a target names none: the one `npm install` chose, else python3. */
function defaultPython(): { python: string; from: string } {
  const recorded = readDefault(packageRoot);
  return recorded ? { python: recorded.python, from: 'the default chosen at npm install' } : { python: 'python3', from: 'python3 on PATH' };
}

interface Job {
  target: Target;
  scripts: { script: string; callable?: string }[];
}

/** A target per process group of a configuration file, each with the scripts it serves. */
async function configJobs(file: string, defines: string[], python: string | undefined, checks: Check[], out: string[]): Promise<Job[] | undefined> {
  const { formatPlan, loadConfig } = await import('../config/index.js');
  let plan;
  try {
    plan = loadConfig(file, { defines });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    checks.push({ check: 'config', status: 'fail', message: err.message, fix: `correct ${err.file} at line ${err.line}` });
    return undefined;
  }
  out.push(formatPlan(plan) + 'Syntax OK');
  checks.push({ check: 'config', status: 'ok', message: `${plan.file}: Syntax OK (${plan.daemonGroups.length} daemon process group(s))` });
  for (const w of plan.warnings) checks.push({ check: 'config', status: 'warn', message: `${w.file}:${w.line}: ${w.message}` });
  const mounts = [plan.mainServer, ...plan.virtualHosts].flatMap((s) => s.mounts);
  const scriptsOf = (processGroup: string) => {
    const seen = new Map<string, { script: string; callable?: string }>();
    for (const m of mounts) {
      if (m.settings.processGroup !== processGroup || m.script.includes('$') || m.script.endsWith('/')) continue;
      seen.set(`${m.script}\0${m.settings.callableObject}`, { script: m.script, callable: m.settings.callableObject });
    }
    return [...seen.values()];
  };
  const jobs: Job[] = [];
  if (!plan.restrictEmbedded) {
    jobs.push({
      target: { label: 'embedded', daemon: false, python, pythonFrom: '--python', pythonHome: plan.pythonHome, pythonPath: [...plan.pythonPath], names: { python: '--python', pythonHome: 'WSGIPythonHome', pythonPath: 'WSGIPythonPath' } },
      scripts: scriptsOf(''),
    });
  }
  const where = (file: string) => (path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file));
  for (const d of plan.daemonGroups) {
    jobs.push({
      target: {
        label: `daemon ${d.name}, ${where(d.file)}:${d.line}`,
        daemon: true,
        python: d.python ?? python,
        pythonFrom: d.python ? 'python= of WSGIDaemonProcess' : '--python',
        pythonHome: d.pythonHome,
        pythonPath: [...d.pythonPath],
        names: { python: 'python=', pythonHome: d.pythonHomeFrom === 'WSGIPythonHome' ? 'WSGIPythonHome' : 'python-home=', pythonPath: 'python-path=' },
      },
      scripts: scriptsOf(d.name),
    });
  }
  return jobs;
}

function formatCheck(c: Check): string {
  const where = c.target ? `[${c.target}] ` : '';
  return `${c.status.padEnd(5)} ${c.check.padEnd(15)} ${where}${c.fix ? `${c.message.replace(/\.$/, '')}. Fix: ${c.fix}` : c.message}`;
}

export async function doctorCommand(argv: string[]): Promise<number> {
  const { options: o, positional } = parseArgs(argv, OPTIONS);
  if (o.help) {
    process.stdout.write(formatHelp(USAGE, OPTIONS) + '\n');
    return 0;
  }
  if (positional.length > 1) throw new CliError(`expected one SCRIPT, got ${positional.join(' ')}`);
  if (positional.length && o.config) throw new CliError('give a SCRIPT or --config FILE, not both');
  const python = o.python as string | undefined;
  const checks: Check[] = [];
  const out: string[] = [];
  let jobs: Job[] | undefined;
  if (o.config) {
    for (const k of ['python-home', 'python-path', 'callable-object']) {
      if (o[k] !== undefined) throw new CliError(`--${k} cannot be combined with --config (the configuration file says it)`);
    }
    jobs = await configJobs(o.config as string, (o.define as string[] | undefined) ?? [], python, checks, out);
  } else {
    const script = positional[0] ? path.resolve(positional[0]) : undefined;
    if (script && !fs.existsSync(script)) {
      checks.push({ check: 'app', status: 'fail', message: `${script} does not exist`, fix: 'name the WSGI script file' });
    }
    jobs = [{
      target: { daemon: false, python, pythonHome: o['python-home'] as string | undefined, pythonPath: (o['python-path'] as string[] | undefined) ?? [], names: CLI_NAMES },
      scripts: script && fs.existsSync(script) ? [{ script, callable: o['callable-object'] as string | undefined }] : [],
    }];
  }
  for (const job of jobs ?? []) {
    const found = staticChecks(job.target, defaultPython);
    checks.push(...found.checks);
    if (!found.runnable) continue;
    const { python: info, build } = found.runnable;
    const request = { python: info.executable, pythonHome: job.target.pythonHome && path.resolve(job.target.pythonHome), pythonPath: job.target.pythonPath.map((p) => path.resolve(p)) };
    const scripts = job.scripts.length ? job.scripts : [undefined];
    for (const s of scripts) checks.push(...(await runtimeChecks({ ...request, script: s?.script, callable: s?.callable }, build, job.target.label)));
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  if (o.json) {
    process.stdout.write(JSON.stringify({ ok: failed === 0, checks, ...(out.length ? { plan: out.join('\n') } : {}) }, null, 2) + '\n');
  } else {
    for (const text of out) process.stdout.write(text + '\n');
    for (const c of checks) process.stdout.write(formatCheck(c) + '\n');
    process.stdout.write(failed ? `pyhost doctor: ${failed} problem(s): it would not run\n` : 'pyhost doctor: it would run\n');
  }
  return failed ? 1 : 0;
}
