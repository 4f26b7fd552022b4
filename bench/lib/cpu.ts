/**
 * Who used the CPUs during a measurement: the server (its process group), wrk and the bench
 * itself, and everybody else. "Others" above a few percent means the run competed with unrelated
 * work (a compiler, another test) and its numbers are noisy. Linux /proc only; elsewhere the
 * figures are simply absent.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

const TICKS_PER_SEC = 100; // USER_HZ on Linux

export interface CpuSnapshot {
  at: number;
  machineBusyTicks: number;
  serverTicks: number;
  /** Our reaped children (wrk) + ourselves, in ticks. */
  benchTicks: number;
}

function machineBusy(): number | undefined {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return total - (f[3] ?? 0) - (f[4] ?? 0);
  } catch {
    return undefined;
  }
}

/** The fields of /proc/<pid>/stat after the command name (utime is [11], stime [12]). */
export function statFields(pid: string): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime+stime of every live process in process group `pgid`. */
function groupTicks(pgid: number): number {
  let sum = 0;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    // after "(comm) ": state=0 ppid=1 pgrp=2 ... utime=11 stime=12
    if (f && Number(f[2]) === pgid) sum += Number(f[11]) + Number(f[12]);
  }
  return sum;
}

function selfTicks(): number {
  const f = statFields('self');
  // utime=11 stime=12 cutime=13 cstime=14
  return f ? Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) : 0;
}

export function cpuSnapshot(serverPgid: number): CpuSnapshot | undefined {
  const busy = machineBusy();
  if (busy === undefined) return undefined;
  return { at: Date.now(), machineBusyTicks: busy, serverTicks: groupTicks(serverPgid), benchTicks: selfTicks() };
}

export interface CpuShare {
  /** % of all cores' time over the measurement: the server's processes, wrk + the bench, everybody else. */
  serverPct: number;
  benchPct: number;
  othersPct: number;
}

export function cpuShare(a: CpuSnapshot | undefined, b: CpuSnapshot | undefined): CpuShare | undefined {
  if (!a || !b) return undefined;
  const capacity = ((b.at - a.at) / 1000) * TICKS_PER_SEC * os.cpus().length;
  if (capacity <= 0) return undefined;
  const pct = (t: number) => Math.round((t / capacity) * 1000) / 10;
  const machine = b.machineBusyTicks - a.machineBusyTicks;
  const server = b.serverTicks - a.serverTicks;
  const bench = b.benchTicks - a.benchTicks;
  const others = Math.max(0, machine - bench - server);
  return { serverPct: pct(server), benchPct: pct(bench), othersPct: pct(others) };
}
