/** Command line of bench/run.ts. */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, SCENARIO_IDS, type ScenarioId } from './scenarios.js';

export interface BenchOptions {
  quick: boolean;
  only?: string[];
  scenarios: ScenarioId[];
  durationSec: number;
  warmupSec: number;
  connections: number;
  threads: number;
  /** Measure every scenario this many times, peers interleaved, and report each peer's median (bench/lib/rounds.ts). */
  rounds: number;
  outDir: string;
  strict: boolean;
  updateReadme: boolean;
  /** Before each run, wait up to this many seconds for the machine to be idle (0: don't wait). */
  waitIdleSec: number;
  /** Run the HTTP part / the in-process microbenchmarks (bench/micro/). */
  http: boolean;
  micro: boolean;
}

// Quick runs keep within 3 minutes with the microbenchmarks: upload and 64k are in the full run.
export const QUICK_SCENARIOS: ScenarioId[] = ['hello', 'flask'];

export const USAGE = `Usage: node --import tsx bench/run.ts [options]

HTTP benchmark of pyhost against bare Node, Apache mod_wsgi, gunicorn, uWSGI and waitress, then
the in-process microbenchmarks of bench/micro/ (calls, gateway, scaling, harness).

  --quick               short runs (< 3 minutes): ${QUICK_SCENARIOS.join(', ')}, 1 s warm-up + 3 s each,
                        and the microbenchmarks' --quick
  --only a,b            peers to run (ids: see below); default all (implies --no-micro)
  --scenarios a,b       scenarios: ${SCENARIO_IDS.join(', ')}; default all (implies --no-micro)
  --no-micro            HTTP only
  --micro-only          microbenchmarks only (Python: $PYHOST_BENCH_MICRO_PYTHON, else the newest
                        Python pyhost has a build for)
  --duration S          measured seconds per run (default 10, --quick 3)
  --warmup S            warm-up seconds before each measurement (default 3, --quick 1)
  --connections N       concurrent connections (default 32)
  --threads N           wrk threads (default 2)
  --rounds N            measure every scenario N times with the peers interleaved (round 1 in peer
                        order, round 2 reversed, round 3 in order...) and report each peer's median
                        requests/s, with the min–max of its rounds; on a VM whose CPU speed drifts,
                        one run per peer in a row skews the ratios (default 1; published figures:
                        3). A failure in any round fails the run.
  --out DIR             output directory (default bench/results/)
  --wait-idle S         before each run, wait up to S seconds for other processes to leave the CPUs
                        idle (< 15% busy), and measure a run again (twice at most) when other
                        processes took > 10% of the CPUs during it; for shared machines
                        (default 0: don't wait, just flag such runs as NOISY)
  --strict              a peer that cannot run (not installed, pyhost CLI not built) fails the run
  --update-readme       replace the results section of bench/README.md with this run's tables
  -h, --help            this text
`;

function positiveNumber(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v.replace(/s$/, ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: expected a positive number, got ${JSON.stringify(v)}`);
  return n;
}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function parseBenchArgs(argv: string[], peerIds: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      scenarios: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      rounds: { type: 'string' },
      out: { type: 'string' },
      strict: { type: 'boolean', default: false },
      'update-readme': { type: 'boolean', default: false },
      'wait-idle': { type: 'string' },
      'no-micro': { type: 'boolean', default: false },
      'micro-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
    strict: true,
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const only = list(values.only);
  for (const id of only ?? []) {
    if (!peerIds.includes(id)) throw new Error(`--only: unknown peer ${JSON.stringify(id)} (peers: ${peerIds.join(', ')})`);
  }
  const scenarioList = list(values.scenarios) ?? (quick ? QUICK_SCENARIOS : SCENARIO_IDS);
  for (const s of scenarioList) {
    if (!(SCENARIO_IDS as string[]).includes(s)) throw new Error(`--scenarios: unknown scenario ${JSON.stringify(s)} (scenarios: ${SCENARIO_IDS.join(', ')})`);
  }
  const connections = Math.round(positiveNumber('connections', values.connections, 32));
  const rounds = positiveNumber('rounds', values.rounds, 1);
  if (!Number.isInteger(rounds)) throw new Error(`--rounds: expected a whole number of rounds, got ${JSON.stringify(values.rounds)}`);
  const microOnly = values['micro-only'] ?? false;
  if (microOnly && (values['no-micro'] || only || values.scenarios)) throw new Error('--micro-only: cannot be combined with --no-micro, --only or --scenarios');
  return {
    quick,
    ...(only ? { only } : {}),
    scenarios: scenarioList as ScenarioId[],
    durationSec: positiveNumber('duration', values.duration, quick ? 3 : 10),
    warmupSec: positiveNumber('warmup', values.warmup, quick ? 1 : 3),
    connections,
    threads: Math.min(connections, Math.round(positiveNumber('threads', values.threads, 2))),
    rounds,
    outDir: path.resolve(values.out ?? path.join(BENCH_DIR, 'results')),
    strict: values.strict ?? false,
    updateReadme: values['update-readme'] ?? false,
    waitIdleSec: values['wait-idle'] === undefined ? 0 : positiveNumber('wait-idle', values['wait-idle'], 0),
    http: !microOnly,
    micro: microOnly || !(values['no-micro'] || only || values.scenarios),
  };
}
