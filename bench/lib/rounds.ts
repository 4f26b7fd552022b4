/**
 * `--rounds N`: every scenario measured N times with the peers interleaved, each peer's figure the
 * median of its rounds. On a small VM whose CPU speed drifts by up to 2x within minutes, one run
 * per peer taken one after another makes the ratios swing; interleaved rounds in alternating
 * order spread that drift over every peer, and the median drops the odd disturbed round.
 */
import type { RunResult } from './report.js';

/** The order of round `round` (0-based): as given on even rounds, reversed on odd ones (A B C, C B A, A B C...). */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...items] : [...items].reverse();
}

/** The median; for an even count, the mean of the two middle values. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Index of the median value; for an even count, the earlier of the two middle values (both are equally near the median). */
export function medianIndex(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const byValue = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]! || a - b);
  const mid = byValue.length >> 1;
  return byValue.length % 2 === 1 ? byValue[mid]! : Math.min(byValue[mid - 1]!, byValue[mid]!);
}

/**
 * One peer's result for a scenario from its rounds (in round order). Any round that did not
 * succeed is the result, as it is with one round: a failure is never averaged away. Otherwise
 * requestsPerSec is the median of the rounds' and every other field (latencies, CPU split,
 * connections busy, log file, wrk command) is that of the median round (for an even N, the
 * earlier of the two middle rounds), so p50, p99 and CPU belong to one real run rather than a mix
 * of runs; `rounds` keeps every round's req/s and `medianRound` says which round the other fields
 * come from. Undefined for no rounds (an interrupted bench).
 */
export function combineRounds(runs: readonly RunResult[]): RunResult | undefined {
  if (runs.length === 0) return undefined;
  const bad = runs.find((r) => r.status !== 'ok' || r.requestsPerSec === undefined);
  if (bad) return bad;
  const rps = runs.map((r) => r.requestsPerSec!);
  const i = medianIndex(rps);
  return { ...runs[i]!, requestsPerSec: median(rps), rounds: rps, medianRound: i + 1 };
}

