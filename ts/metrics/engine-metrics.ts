/**
 * An engine's metrics, in a prom-client registry (the Node ecosystem's standard; its text is the
 * Prometheus exposition format): what the scheduler reports (requests by status class, latency,
 * refusals, timeouts, fallbacks, daemon restarts), and at each scrape the groups' queue depth and
 * running work, per application group and per daemon process group.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SchedulerEvents } from '../scheduler/events.js';

/** What a scrape reads of the engine's groups. */
export interface GroupGauges {
  /** Embedded groups: name, jobs queued, workers busy. */
  groups(): { group: string; queued: number; running: number }[];
  /** Daemon process groups: name, requests queued, requests running, processes ready. */
  daemonGroups(): { processGroup: string; queued: number; running: number; ready: number }[];
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class EngineMetrics implements SchedulerEvents {
  readonly registry = new Registry();
  private readonly requests: Counter<'group' | 'process_group' | 'status_class'>;
  private readonly latency: Histogram<'group' | 'process_group'>;
  private readonly rejections: Counter<'group' | 'process_group' | 'reason'>;
  private readonly timeouts: Counter<'group' | 'process_group' | 'kind'>;
  private readonly fallbacks: Counter<'group' | 'process_group'>;
  private readonly restarts: Counter<'process_group' | 'reason'>;

  constructor(gauges: GroupGauges) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'pyhost_requests_total',
      help: 'Requests answered, by application group, daemon process group and status class (2xx..5xx)',
      labelNames: ['group', 'process_group', 'status_class'],
      registers,
    });
    this.latency = new Histogram({
      name: 'pyhost_request_duration_seconds',
      help: 'Time from a request reaching pyhost to its response being complete',
      labelNames: ['group', 'process_group'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.rejections = new Counter({
      name: 'pyhost_rejected_total',
      help: 'Jobs refused by admission (queue full, group closed)',
      labelNames: ['group', 'process_group', 'reason'],
      registers,
    });
    this.timeouts = new Counter({
      name: 'pyhost_timeouts_total',
      help: 'Requests and calls that overran a timeout (queue, request, call)',
      labelNames: ['group', 'process_group', 'kind'],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'pyhost_fallbacks_total',
      help: 'Application groups moved to %{GLOBAL} because an extension module refused their sub-interpreter',
      labelNames: ['group', 'process_group'],
      registers,
    });
    this.restarts = new Counter({
      name: 'pyhost_daemon_restarts_total',
      help: 'Daemon processes restarted (crash, recycle, timeout)',
      labelNames: ['process_group', 'reason'],
      registers,
    });
    new Gauge({
      name: 'pyhost_queue_depth',
      help: 'Jobs waiting for a worker (embedded groups) or a daemon thread (process groups), at the scrape',
      labelNames: ['group', 'process_group'],
      registers,
      collect() {
        this.reset();
        for (const g of gauges.groups()) this.set({ group: g.group, process_group: '' }, g.queued);
        for (const d of gauges.daemonGroups()) this.set({ group: '', process_group: d.processGroup }, d.queued);
      },
    });
    new Gauge({
      name: 'pyhost_running',
      help: 'Jobs running now (busy workers, or requests in daemon processes), at the scrape',
      labelNames: ['group', 'process_group'],
      registers,
      collect() {
        this.reset();
        for (const g of gauges.groups()) this.set({ group: g.group, process_group: '' }, g.running);
        for (const d of gauges.daemonGroups()) this.set({ group: '', process_group: d.processGroup }, d.running);
      },
    });
    new Gauge({
      name: 'pyhost_daemon_processes_ready',
      help: 'Daemon processes ready to serve, per process group, at the scrape',
      labelNames: ['process_group'],
      registers,
      collect() {
        this.reset();
        for (const d of gauges.daemonGroups()) this.set({ process_group: d.processGroup }, d.ready);
      },
    });
  }

  requestDone(group: string, processGroup: string, status: number, seconds: number): void {
    const labels = { group, process_group: processGroup };
    this.requests.inc({ ...labels, status_class: `${Math.floor(status / 100)}xx` });
    this.latency.observe(labels, seconds);
  }

  rejected(group: string, processGroup: string, reason: 'queue_full' | 'closed'): void {
    this.rejections.inc({ group, process_group: processGroup, reason });
  }

  timedOut(group: string, processGroup: string, kind: 'queue' | 'request' | 'call'): void {
    this.timeouts.inc({ group, process_group: processGroup, kind });
  }

  fellBack(group: string, processGroup: string): void {
    this.fallbacks.inc({ group, process_group: processGroup });
  }

  restarted(processGroup: string, reason: 'crash' | 'recycle' | 'timeout'): void {
    this.restarts.inc({ process_group: processGroup, reason });
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
