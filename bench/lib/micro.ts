/**
 * Runs the in-process microbenchmarks of bench/micro/ from `npm run bench`, each in a process of
 * its own (one Python runtime per process), on one Python: $PYHOST_BENCH_MICRO_PYTHON, else the
 * newest Python pyhost has a build for (3.12+ shows own-GIL groups; the harness suite needs it).
 * Collects each suite's printed table into one Markdown section.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listBuilds } from '../../scripts/python.js';
import { run } from './proc.js';
import { REPO_DIR } from './scenarios.js';

export interface MicroOutcome {
  python: string;
  version: string;
  /** Markdown: one table per suite. */
  markdown: string;
  failures: string[];
}

interface Build {
  version: string;
  executable: string;
}

function builds(): Build[] {
  return (listBuilds(REPO_DIR) as Build[]).filter((b) => fs.existsSync(b.executable));
}

const versionKey = (v: string) => v.split('.').map(Number).reduce((a, n) => a * 1000 + n, 0);

/** The Python the microbenchmarks run on, and its version (major.minor.patch). */
export function microPython(): Build | undefined {
  const forced = process.env.PYHOST_BENCH_MICRO_PYTHON;
  const all = builds();
  if (forced) return all.find((b) => b.executable === forced) ?? { executable: forced, version: '?' };
  return all.sort((a, b) => versionKey(b.version) - versionKey(a.version))[0];
}

interface Suite {
  id: string;
  title: string;
  needsOwnGil?: boolean;
  extraArgs?: (outDir: string) => string[];
}

const SUITES: Suite[] = [
  { id: 'calls', title: 'Calls: round trip, throughput, memory per group' },
  { id: 'gateway', title: 'WSGI gateway: dispatch overhead and environ cost (no socket)' },
  { id: 'scaling', title: 'CPU-bound scaling: groups and daemon processes', extraArgs: (out) => ['--svg', path.join(out, 'micro-scaling.svg')] },
  { id: 'harness', title: 'Multi-tenant harness (own-GIL tenants)', needsOwnGil: true },
];

export async function runMicro(opts: { quick: boolean; outDir: string; waitIdleSec: number; chartHref: string }, log: (s: string) => void): Promise<MicroOutcome> {
  const py = microPython();
  const failures: string[] = [];
  if (!py) return { python: '', version: '', markdown: '', failures: ['microbenchmarks: no pyhost build found (run npm install)'] };
  const [maj, min] = py.version.split('.').map(Number);
  const ownGil = maj > 3 || (maj === 3 && min >= 12);
  const sections: string[] = [];
  for (const s of SUITES) {
    if (s.needsOwnGil && !ownGil) {
      sections.push(`#### ${s.title}\n\nskipped: needs Python 3.12+ (the microbenchmarks ran on ${py.version})`);
      continue;
    }
    const args = ['--import', 'tsx', path.join(REPO_DIR, 'bench', 'micro', `${s.id}.ts`), '--python', py.executable, '--out', path.join(opts.outDir, `micro-${s.id}.json`)];
    if (opts.quick) args.push('--quick');
    if (opts.waitIdleSec > 0 && s.id !== 'harness') args.push('--wait-idle', String(opts.waitIdleSec));
    args.push(...(s.extraArgs?.(opts.outDir) ?? []));
    log(`[bench] micro/${s.id} on Python ${py.version}...`);
    const t0 = Date.now();
    const r = await run(process.execPath, args, { cwd: REPO_DIR, timeoutMs: 15 * 60_000 });
    const table = r.stdout
      .split('\n')
      .filter((l) => !l.startsWith('written:'))
      .join('\n')
      .trim();
    if (r.code !== 0) {
      failures.push(`micro/${s.id} failed (exit ${r.code}):\n${r.output.trim().split('\n').slice(-15).join('\n')}`);
      sections.push(`#### ${s.title}\n\nFAILED (exit ${r.code})`);
      continue;
    }
    log(`${table}\n[bench] micro/${s.id}: ${Math.round((Date.now() - t0) / 1000)} s`);
    const chart = s.id === 'scaling' ? `\n\n![cores used by CPU-bound units at once](${opts.chartHref})` : '';
    sections.push(`#### ${s.title}\n\n${table}${chart}`);
  }
  return {
    python: py.executable,
    version: py.version,
    markdown: `### In-process microbenchmarks (Python ${py.version}${opts.quick ? ', --quick' : ''})\n\n${sections.join('\n\n')}`,
    failures,
  };
}
