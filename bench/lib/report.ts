/** Result types and their renderings: results.json, Markdown tables, and a dependency-free SVG chart. */
import type { LatencyMs } from '../load/wrk.js';
import { machineLine, type MachineInfo } from './machine.js';
import type { ScenarioId } from './scenarios.js';

export type RunStatus = 'ok' | 'failed' | 'skipped' | 'n/a';

export interface RunResult {
  peer: string;
  scenario: ScenarioId;
  status: RunStatus;
  /** Why it failed / was skipped / is n/a. */
  reason?: string;
  /** With --rounds N: the median of `rounds` (the other measured fields: see medianRound). */
  requestsPerSec?: number;
  /** requests/s of every round, in round order (one entry without --rounds). */
  rounds?: number[];
  /** Which round (1-based) every field other than requestsPerSec comes from: the median one (even N: the earlier middle one). */
  medianRound?: number;
  requests?: number;
  durationSec?: number;
  latencyMs?: LatencyMs;
  errors?: { connect: number; read: number; write: number; timeout: number; non2xx: number; mismatches: number };
  checkedResponses?: number;
  /** requests/s x mean latency: how many connections were really kept busy (starvation shows here). */
  effectiveConcurrency?: number;
  warmup?: { requestsPerSec: number; requests: number };
  startupMs?: number;
  /** CPU use during the measurement, % of all cores: the server, wrk + bench, and unrelated processes (noise). */
  cpu?: { serverPct: number; benchPct: number; othersPct: number };
  /** CPU busy % of the whole machine in the 300 ms before this run's server started (should be ~0). */
  hostBusyBeforePct?: number;
  /** requests/s divided by mod_wsgi embedded's / uWSGI's / bare Node's in the same scenario. */
  vsModWsgi?: number;
  vsUwsgi?: number;
  vsNode?: number;
  /** p50 / p99 latency divided by mod_wsgi embedded's (lower is better). */
  latencyVsModWsgi?: { p50: number; p99: number };
  logFile?: string;
  wrkCommand?: string;
}

export interface PeerInfo {
  id: string;
  label: string;
  setup: string;
  available: boolean;
  reason?: string;
  versions: Record<string, string>;
}

export interface ScenarioInfo {
  id: ScenarioId;
  title: string;
  method: string;
  requestBytes: number;
  responseBytes: number;
  skipped?: string;
}

export interface BenchReport {
  schema: 1;
  tool: 'pyhost bench (HTTP)';
  machine: MachineInfo;
  config: { quick: boolean; durationSec: number; warmupSec: number; connections: number; wrkThreads: number; rounds: number; command: string };
  peers: PeerInfo[];
  scenarios: ScenarioInfo[];
  results: RunResult[];
  failures: string[];
  notes: string[];
  elapsedSec: number;
}

/** Fill vsModWsgi / vsUwsgi / vsNode / latencyVsModWsgi for every ok result (from the medians, with --rounds). */
export function computeRatios(results: RunResult[]): void {
  const base = (peer: string, scenario: ScenarioId) => results.find((r) => r.peer === peer && r.scenario === scenario && r.status === 'ok');
  for (const r of results) {
    if (r.status !== 'ok' || r.requestsPerSec === undefined) continue;
    const m = base('apache-embedded', r.scenario);
    const n = base('node', r.scenario);
    const u = base('uwsgi', r.scenario);
    if (m?.requestsPerSec) r.vsModWsgi = r.requestsPerSec / m.requestsPerSec;
    if (u?.requestsPerSec) r.vsUwsgi = r.requestsPerSec / u.requestsPerSec;
    if (n?.requestsPerSec) r.vsNode = r.requestsPerSec / n.requestsPerSec;
    if (m?.latencyMs && r.latencyMs) r.latencyVsModWsgi = { p50: r.latencyMs.p50 / m.latencyMs.p50, p99: r.latencyMs.p99 / m.latencyMs.p99 };
  }
}

export function fmtRps(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

function fmtRatio(x: number | undefined): string {
  return x === undefined ? '–' : `${x.toFixed(2)}x`;
}

function oneLine(s: string | undefined, max = 90): string {
  const t = (s ?? '').split('\n')[0]!.replace(/\|/g, '\\|');
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

/** "min–max" of the rounds' requests/s; '' with fewer than two rounds. */
function roundSpread(r: RunResult): string {
  if (r.status !== 'ok' || !r.rounds || r.rounds.length < 2) return '';
  return `${fmtRps(Math.min(...r.rounds))}–${fmtRps(Math.max(...r.rounds))}`;
}

/** Tables get a min–max column only when some peer ran more than one round (N = 1 output unchanged). */
function hasRounds(report: BenchReport): boolean {
  return report.results.some((r) => (r.rounds?.length ?? 0) > 1);
}

function errorCount(r: RunResult): number {
  const e = r.errors;
  return e ? e.connect + e.read + e.write + e.timeout + e.non2xx + e.mismatches : 0;
}

/** One Markdown table per scenario (plus machine line and notes). */
export function renderMarkdown(report: BenchReport, peerOrder: string[]): string {
  const label = (id: string) => report.peers.find((p) => p.id === id)?.label ?? id;
  const out: string[] = [];
  out.push(`Machine: ${machineLine(report.machine)}`, '');
  const c = report.config;
  const spreadCol = hasRounds(report);
  const rounds =
    c.rounds > 1
      ? ` Each peer ran ${c.rounds} rounds, interleaved with the other peers (order reversed every other round): ` +
        `requests/s and ratios are the median of its rounds, min–max is the range of its rounds, latencies are those of its median round.`
      : '';
  out.push(
    `Load: wrk, ${c.connections} connections, ${c.wrkThreads} threads, ${c.warmupSec} s warm-up + ${c.durationSec} s measured per run${c.quick ? ' (--quick)' : ''}; ` +
      `every response checked (status + exact body). Ratios are requests/s divided by mod_wsgi embedded's, uWSGI's and bare Node's.${rounds}`,
    '',
  );
  for (const s of report.scenarios) {
    out.push(`### ${s.title}`, '');
    if (s.skipped) {
      out.push(`Skipped: ${s.skipped}`, '');
      continue;
    }
    if (spreadCol) out.push('| peer | requests/s | min–max | p50 | p99 | errors | vs mod_wsgi | vs uWSGI | vs Node |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    else out.push('| peer | requests/s | p50 | p99 | errors | vs mod_wsgi | vs uWSGI | vs Node |', '|---|---:|---:|---:|---:|---:|---:|---:|');
    const rows = report.results.filter((r) => r.scenario === s.id);
    rows.sort((a, b) => peerOrder.indexOf(a.peer) - peerOrder.indexOf(b.peer));
    for (const r of rows) {
      if (r.status === 'ok') {
        const range = spreadCol ? ` ${roundSpread(r)} |` : '';
        out.push(
          `| ${label(r.peer)} | ${fmtRps(r.requestsPerSec ?? 0)} |${range} ${fmtMs(r.latencyMs?.p50)} | ${fmtMs(r.latencyMs?.p99)} | ${errorCount(r)} | ${fmtRatio(r.vsModWsgi)} | ${fmtRatio(r.vsUwsgi)} | ${fmtRatio(r.vsNode)} |`,
        );
      } else {
        const what = r.status === 'failed' ? '**FAILED**' : r.status;
        out.push(`| ${label(r.peer)} | ${what} |${spreadCol ? ' |' : ''} | | ${r.status === 'failed' ? '**yes**' : ''} | | | ${oneLine(r.reason)} |`);
      }
    }
    const starving = rows.filter((r) => r.status === 'ok' && r.effectiveConcurrency !== undefined && r.effectiveConcurrency < 0.5 * c.connections);
    for (const r of starving) {
      out.push('', `Note: ${label(r.peer)} kept only ~${r.effectiveConcurrency!.toFixed(1)} of ${c.connections} connections busy (requests/s x mean latency).`);
    }
    out.push('');
  }
  if (report.notes.length > 0) out.push('Notes:', ...report.notes.map((n) => `- ${oneLine(n, 300)}`), '');
  if (report.failures.length > 0) out.push('**Failures:**', ...report.failures.map((f) => `- ${oneLine(f, 300)}`), '');
  return out.join('\n');
}

/** Plain-text tables for the terminal. */
export function renderText(report: BenchReport, peerOrder: string[]): string {
  const label = (id: string) => report.peers.find((p) => p.id === id)?.label ?? id;
  const spreadCol = hasRounds(report);
  const out: string[] = [];
  for (const s of report.scenarios) {
    out.push('', `== ${s.title}${s.skipped ? ` — skipped: ${s.skipped}` : ''}`);
    if (s.skipped) continue;
    // The min–max column (second) only when some peer ran several rounds.
    const withSpread = (row: string[], range: string) => (spreadCol ? [row[0]!, row[1]!, range, ...row.slice(2)] : row);
    const rows: string[][] = [withSpread(['peer', 'req/s', 'p50', 'p99', 'errors', 'vs mod_wsgi', 'vs uWSGI', 'vs Node'], `min–max (${report.config.rounds} rounds)`)];
    const rs = report.results.filter((r) => r.scenario === s.id).sort((a, b) => peerOrder.indexOf(a.peer) - peerOrder.indexOf(b.peer));
    for (const r of rs) {
      if (r.status === 'ok') {
        rows.push(withSpread([label(r.peer), fmtRps(r.requestsPerSec ?? 0), fmtMs(r.latencyMs?.p50), fmtMs(r.latencyMs?.p99), String(errorCount(r)), fmtRatio(r.vsModWsgi), fmtRatio(r.vsUwsgi), fmtRatio(r.vsNode)], roundSpread(r)));
      } else {
        rows.push(withSpread([label(r.peer), r.status === 'failed' ? 'FAILED' : r.status, '', '', '', '', '', oneLine(r.reason, 60)], ''));
      }
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    const last = rows[0]!.length - 1;
    for (const row of rows) {
      out.push('  ' + row.map((cell, j) => (j === 0 || j === last ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  ').trimEnd());
    }
  }
  return out.join('\n');
}

// ---- SVG --------------------------------------------------------------------------------------

const COLORS: Record<string, string> = {
  node: '#7f8c8d',
  pyhost: '#1f77b4',
  apache: '#c0392b',
  gunicorn: '#27ae60',
  uwsgi: '#e67e22',
  waitress: '#8e44ad',
};

function color(peer: string): string {
  return COLORS[peer.split('-')[0]!] ?? '#34495e';
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Horizontal bar chart, one panel per scenario, bars = requests/s (scaled per panel). */
export function renderSvg(report: BenchReport, peerOrder: string[]): string {
  const label = (id: string) => report.peers.find((p) => p.id === id)?.label ?? id;
  const width = 960;
  const labelW = 210;
  const valueW = 230;
  const barMax = width - labelW - valueW - 20;
  const rowH = 22;
  const parts: string[] = [];
  let y = 56;
  for (const s of report.scenarios) {
    const rows = report.results.filter((r) => r.scenario === s.id && r.status !== 'n/a').sort((a, b) => peerOrder.indexOf(a.peer) - peerOrder.indexOf(b.peer));
    parts.push(`<text x="10" y="${y}" class="h">${esc(s.title)}${s.skipped ? ' — skipped' : ''}</text>`);
    y += 10;
    const max = Math.max(1, ...rows.map((r) => (r.status === 'ok' ? Math.max(r.requestsPerSec ?? 0, ...(r.rounds ?? [])) : 0)));
    const top = y;
    const panelStart = parts.length;
    const mod = rows.find((r) => r.peer === 'apache-embedded' && r.status === 'ok')?.requestsPerSec;
    for (const r of rows) {
      const ty = y + rowH - 7;
      parts.push(`<text x="${labelW - 8}" y="${ty}" class="l">${esc(label(r.peer))}</text>`);
      if (r.status === 'ok' && r.requestsPerSec !== undefined) {
        const w = Math.max(1, (r.requestsPerSec / max) * barMax);
        parts.push(`<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${color(r.peer)}"/>`);
        if (r.rounds && r.rounds.length > 1) {
          // Whisker: the range of the rounds around their median (the bar).
          const [x1, x2] = [Math.min(...r.rounds), Math.max(...r.rounds)].map((v) => (labelW + (v / max) * barMax).toFixed(1));
          parts.push(`<line x1="${x1}" y1="${y + rowH / 2}" x2="${x2}" y2="${y + rowH / 2}" stroke="#222" stroke-width="1.5"/>`);
        }
        const ratio = r.vsModWsgi !== undefined ? ` · ${r.vsModWsgi.toFixed(2)}x mod_wsgi` : '';
        const textX = labelW + Math.max(w, ((r.rounds ? Math.max(...r.rounds) : 0) / max) * barMax) + 6;
        parts.push(`<text x="${textX.toFixed(1)}" y="${ty}" class="v">${fmtRps(r.requestsPerSec)} req/s${ratio}</text>`);
      } else {
        parts.push(`<text x="${labelW}" y="${ty}" class="${r.status === 'failed' ? 'f' : 's'}">${r.status === 'failed' ? 'FAILED' : esc(r.status)}: ${esc(oneLine(r.reason, 80))}</text>`);
      }
      y += rowH;
    }
    if (mod !== undefined) {
      // Behind the bars and labels of this panel.
      const x = (labelW + (mod / max) * barMax).toFixed(1);
      parts.splice(panelStart, 0, `<line x1="${x}" y1="${top + 2}" x2="${x}" y2="${y + 2}" stroke="#c0392b" stroke-dasharray="3,3" opacity="0.6"/>`);
    }
    y += 26;
  }
  const height = y;
  const c = report.config;
  const m = report.machine;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>.t{font-size:16px;font-weight:bold}.m{font-size:11px;fill:#555}.h{font-size:13px;font-weight:bold}.l{font-size:12px;text-anchor:end}.v{font-size:11px;fill:#222}.s{font-size:11px;fill:#888}.f{font-size:11px;fill:#c0392b;font-weight:bold}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" class="t">pyhost HTTP bench: requests/s (longer is better; dashed line: mod_wsgi embedded)</text>`,
    `<text x="10" y="38" class="m">${esc(`${m.date.slice(0, 10)} · ${m.cores} cores ${m.cpuModel} · Node ${m.node} · wrk ${c.connections} connections, ${c.durationSec} s${c.quick ? ' (quick)' : ''}${c.rounds > 1 ? `; median of ${c.rounds} interleaved rounds, line: min–max` : ''}`)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
