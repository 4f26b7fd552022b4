/** The machine a result came from: recorded in every results.json and printed above every table. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { run } from './proc.js';

export interface MachineInfo {
  date: string;
  os: string;
  kernel: string;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  /** Interpreter path (or description) -> version. */
  pythons: Record<string, string>;
  wrk: string;
  loadAverageAtStart: number[];
  /** CPU busy % (all cores, every process) over 1 s before the run started: others' load makes numbers noisy. */
  hostBusyPctAtStart?: number;
}

async function pythonVersion(cmd: string): Promise<string | undefined> {
  const r = await run(cmd, ['-c', 'import sys; print(sys.version.split()[0], sys.executable)'], { timeoutMs: 10000 });
  if (r.code !== 0) return undefined;
  const [version, exe] = r.stdout.trim().split(' ');
  return exe && exe !== cmd ? `${version} (${exe})` : version;
}

function distro(): string {
  try {
    const text = fs.readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

export async function machineInfo(wrk: string): Promise<MachineInfo> {
  const busy = await hostBusyPct(1000);
  const pythons: Record<string, string> = {};
  const candidates = ['/usr/bin/python3.11', '/usr/bin/python3', 'python3'];
  if (process.env.PYHOST_PYTHON) candidates.push(process.env.PYHOST_PYTHON);
  if (process.env.PYHOST_BENCH_PYTHON) candidates.push(process.env.PYHOST_BENCH_PYTHON);
  for (const c of [...new Set(candidates)]) {
    const v = await pythonVersion(c);
    pythons[c === 'python3' ? 'python3 on PATH' : c] = v ?? 'not found';
  }
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    os: distro(),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? '?',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    pythons,
    wrk,
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    ...(busy !== undefined ? { hostBusyPctAtStart: busy } : {}),
  };
}

export function machineLine(m: MachineInfo): string {
  const py = Object.entries(m.pythons)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  return `${m.date} · ${m.os} (${m.kernel}) · ${m.cores} cores ${m.cpuModel} · ${m.memoryGiB} GiB · Node ${m.node} · ${m.wrk} · Python ${py}`;
}

/** Busy and total jiffies of the whole host so far (/proc/stat); undefined off Linux. */
export function cpuTimes(): { busy: number; total: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Share of all CPU time (every core, every process) that was busy during the next `ms` milliseconds. */
export async function hostBusyPct(ms: number): Promise<number | undefined> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  if (!a || !b || b.total === a.total) return undefined;
  return Math.round(((b.busy - a.busy) / (b.total - a.total)) * 1000) / 10;
}
