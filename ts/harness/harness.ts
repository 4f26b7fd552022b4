/**
 * Harness: many isolated Python tenants, each an application group (a sub-interpreter, own GIL by
 * default on 3.12+) taken from a warm pool of interpreters.
 *
 * Isolation 'process' (the default) puts tenants in tenant host processes (tenantsPerProcess
 * each): anything fatal a tenant does ends only its host, and its tenants are re-created in a
 * fresh one. Isolation 'interpreter' keeps tenants in this process, for trusted code: faster, but
 * an exit, a crash or code stuck in C reaches the whole process. Neither is a security sandbox:
 * see the README.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine, type EngineOptions } from '../engine.js';
import { PyhostError } from '../errors.js';
import { GLOBAL_GROUP, type Group } from '../group.js';
import { Logger, type LogLevel, type LogSink } from '../logger.js';
import { daemonEnvironment, daemonProgram } from '../native/daemon-program.js';
import { loadedBuild, resolveBuild } from '../native/loader.js';
import { checkKnownKeys, enumOption, intOption, invalid, stringArrayOption } from '../options.js';
import { moduleInstaller } from '../python-sources.js';
import { errorStatusArgs, isStrict, tenantFallback } from '../scheduler/index.js';
import type { SpawnSpec } from '../daemon/spawn.js';
import { probeExtensions } from './extension-probe.js';
import { HostPool } from './host-pool.js';
import { HostRuntime } from './host-runtime.js';
import { InterpreterRuntime } from './interpreter-runtime.js';
import type { TenantHost } from './tenant-host.js';
import type { Placement, TenantRuntime } from './tenant-runtime.js';
import { Tenant, type TenantOwner, type TenantSetup, type TenantSpec } from './tenant.js';

export interface HarnessOptions {
  /** Python executable (a name on PATH, pyenv's included, or a path; 3.12+ for own-GIL tenants). */
  python?: string;
  /** Where tenants run: 'process' (default; tenant host processes) or 'interpreter' (this process). */
  isolation?: 'process' | 'interpreter';
  /** Isolation 'process': tenants per host process (default 16; 1 for the strongest separation). */
  tenantsPerProcess?: number;
  /** Tenants' GIL: 'own' (default on 3.12+, parallel) or 'shared'. */
  gil?: 'own' | 'shared';
  /** Warm interpreters kept ready: a number, or 'auto' (default: follows demand, 2 to 32). */
  pool?: number | 'auto';
  /** Most live tenants (default 1000). */
  maxTenants?: number;
  /** New tenants are refused while the harness's memory (its processes' RSS) exceeds this many bytes (0: no budget). */
  memoryBudget?: number;
  /** Isolation 'process': address space of each host process in bytes (RLIMIT_AS; 0, the default: none). */
  memoryLimit?: number;
  /** Isolation 'process': a host whose RSS grows past this takes no new tenants and ends when they are gone (default 192 MiB). */
  recycleMemory?: number;
  /** Characters of stdout and of stderr kept per call (default 1 MiB); a call that prints 16 times that is stopped. */
  maxOutput?: number;
  /** Characters of JSON a call's value may take (default 16 MiB). */
  maxValue?: number;
  /** Milliseconds a timed-out call may take to end before it counts as stuck (default 2000). */
  timeoutGrace?: number;
  /** Where a tenant goes when a `requires` module refuses sub-interpreters (default 'global'). */
  fallback?: 'global' | 'shared' | 'error';
  /** Worker threads per tenant (default 1: a tenant runs one call at a time). */
  threads?: number;
  /** Milliseconds close() and reset() wait for a tenant's threads (default 5000). */
  closeTimeout?: number;
  /** Isolation 'interpreter': engine options, or an engine to share. Both: `logger` and `logLevel`. */
  engine?: Engine | Omit<EngineOptions, 'python' | 'restrictEmbedded'>;
}

export interface TenantOptions {
  /** sys.path entries (site.addsitedir, first) for this tenant only. */
  pythonPath?: string[];
  /** The tenant's os.environ: these, plus the host's BASE_ENVIRONMENT variables. */
  env?: Record<string, string>;
  /** Files written to a directory of the tenant's own, which is put on its sys.path. */
  files?: Record<string, string | Buffer>;
  /** Modules imported when the tenant is created. */
  preload?: string[];
  /** Modules test-imported first: one that refuses sub-interpreters decides the placement. */
  requires?: string[];
}

/** The host variables a tenant's os.environ keeps (and all a tenant host process has). */
export const BASE_ENVIRONMENT = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'USER', 'LOGNAME'];

const HARNESS_KEYS = [
  'python', 'isolation', 'tenantsPerProcess', 'gil', 'pool', 'maxTenants', 'memoryBudget', 'memoryLimit', 'recycleMemory',
  'maxOutput', 'maxValue', 'timeoutGrace', 'fallback', 'threads', 'closeTimeout', 'engine',
] as const;
const TENANT_KEYS = ['pythonPath', 'env', 'files', 'preload', 'requires'] as const;
const MiB = 1024 * 1024;

/** Set-up attempts when the host dies under a new tenant. */
const HOST_LOST_RETRIES = 10;

/** A tenant's host died during its set-up. */
class HostLost extends PyhostError {
  constructor(message: string) {
    super('ERR_TENANT_SETUP', message);
  }
}

/** Installs the tenant module (python/pyhost_tenant.py) in an interpreter of `python`. */
const tenantInstaller = (python: string) => moduleInstaller('pyhost_tenant', '_pyhost_tenant', '<pyhost-tenant>', python);
/** What the warm pool runs in each interpreter it makes: the module, and the tenant's isolation. */
const poolPrelude = (python: string) =>
  `${tenantInstaller(python)}\nsys.modules['_pyhost_tenant'].isolate(${JSON.stringify(BASE_ENVIRONMENT)})\n`;

/** Pool targets of every live in-process harness: the process's pool of a kind holds their sum. */
const poolTargets = new Map<Harness, { gil: 'own' | 'shared'; n: number }>();

interface Settings {
  isolation: 'process' | 'interpreter';
  tenantsPerProcess: number;
  gil: 'own' | 'shared';
  pool: number | 'auto';
  maxTenants: number;
  memoryBudget: number;
  memoryLimit: number;
  recycleMemory: number;
  maxOutput: number;
  maxValue: number;
  timeoutGrace: number;
  fallback: 'global' | 'shared' | 'error';
  threads: number;
  closeTimeout: number;
}

/** Where tenants' groups are made: this process's engine, or host processes. */
type Homes = { kind: 'interpreter'; engine: Engine; ownsEngine: boolean } | { kind: 'process'; hosts: HostPool };

/** Events of a Harness. */
export interface HarnessEvents {
  /** A tenant was re-created in a fresh host process (its host died: `reason`); its state is gone. */
  restart: [tenant: Tenant, reason: string];
}

/** Serial of the tenant groups this process's harnesses created. */
let groupSerial = 0;

export class Harness extends EventEmitter<HarnessEvents> implements TenantOwner {
  private readonly tenants = new Map<string, Tenant>();
  private readonly quarantinedGroups: string[] = [];
  private readonly hostOf = new Map<TenantRuntime, TenantHost>();
  private demand: number[] = [];
  private closing = false;
  private serial = 0;
  private readonly tmp: string;
  private homes!: Homes;

  private constructor(
    private readonly s: Settings,
    readonly logger: Logger,
    readonly pythonVersion: string,
    private readonly pythonExecutable: string,
  ) {
    super();
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-harness-'));
  }

  get isolation(): 'process' | 'interpreter' {
    return this.s.isolation;
  }
  get graceMs(): number {
    return this.s.timeoutGrace;
  }
  get maxOutput(): number {
    return this.s.maxOutput;
  }
  get maxValue(): number {
    return this.s.maxValue;
  }
  get gil(): 'own' | 'shared' {
    return this.s.gil;
  }

  /** Isolation 'interpreter': the engine tenants run in. */
  get engine(): Engine {
    if (this.homes.kind !== 'interpreter') throw new PyhostError('ERR_INVALID_ARGUMENT', "harness.engine: tenants of isolation 'process' run in host processes");
    return this.homes.engine;
  }

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const what = 'Harness.start';
    checkKnownKeys(what, options, HARNESS_KEYS);
    const isolation = enumOption(what, 'isolation', options.isolation, ['process', 'interpreter'] as const, 'process');
    const engineOpts = options.engine instanceof Engine ? undefined : options.engine;
    if (options.engine instanceof Engine && isolation === 'process') {
      throw invalid(what, "an engine to share is for isolation 'interpreter'");
    }
    const logger = options.engine instanceof Engine
      ? options.engine.logger
      : new Logger(engineOpts?.logger as LogSink | undefined, (engineOpts?.logLevel as LogLevel | undefined) ?? 'info');
    let homes: Homes | undefined;
    let version: string;
    let executable: string;
    if (isolation === 'interpreter') {
      const engine = options.engine instanceof Engine ? options.engine : await Engine.start({ ...(engineOpts ?? {}), python: options.python });
      homes = { kind: 'interpreter', engine, ownsEngine: !(options.engine instanceof Engine) };
      version = engine.pythonVersion;
      executable = loadedBuild()?.executable ?? resolveBuild(options.python).executable;
    } else {
      const build = resolveBuild(options.python);
      version = build.version;
      executable = build.executable;
    }
    try {
      const [major, minor] = version.split('.').map(Number);
      const ownCapable = major > 3 || (major === 3 && minor >= 12);
      const gil = enumOption(what, 'gil', options.gil, ['own', 'shared'] as const, ownCapable ? 'own' : 'shared');
      if (gil === 'own' && !ownCapable) {
        throw new PyhostError('ERR_OWN_GIL_UNSUPPORTED', `Harness: gil 'own' needs Python 3.12+; this is Python ${version}`);
      }
      const s: Settings = {
        isolation,
        tenantsPerProcess: intOption(what, 'tenantsPerProcess', options.tenantsPerProcess, 16, 1, 1024),
        gil,
        pool: options.pool === undefined || options.pool === 'auto' ? 'auto' : intOption(what, 'pool', options.pool, 2, 0, 1024),
        maxTenants: intOption(what, 'maxTenants', options.maxTenants, 1000, 1, 1_000_000),
        memoryBudget: intOption(what, 'memoryBudget', options.memoryBudget, 0, 0, Number.MAX_SAFE_INTEGER),
        memoryLimit: intOption(what, 'memoryLimit', options.memoryLimit, 0, 0, Number.MAX_SAFE_INTEGER),
        recycleMemory: intOption(what, 'recycleMemory', options.recycleMemory, 192 * MiB, 0, Number.MAX_SAFE_INTEGER),
        maxOutput: intOption(what, 'maxOutput', options.maxOutput, MiB, 1, 1 << 30),
        maxValue: intOption(what, 'maxValue', options.maxValue, 16 * MiB, 1, 1 << 30),
        timeoutGrace: intOption(what, 'timeoutGrace', options.timeoutGrace, 2000, 1, 600_000),
        fallback: enumOption(what, 'fallback', options.fallback, ['global', 'shared', 'error'] as const, 'global'),
        threads: intOption(what, 'threads', options.threads, 1, 1, 64),
        closeTimeout: intOption(what, 'closeTimeout', options.closeTimeout, 5000, 0, 600_000),
      };
      if (s.memoryLimit > 0 && s.memoryLimit < 64 * MiB) throw invalid(what, 'memoryLimit must be at least 64 MiB (a host process needs that much address space)');
      const harness = new Harness(s, logger, version, executable);
      harness.homes = homes ?? { kind: 'process', hosts: harness.makeHostPool(options.python) };
      harness.setPoolTarget(s.pool === 'auto' ? 2 : s.pool);
      if (harness.homes.kind === 'process') {
        // The first host now: a host that cannot start is an error of start(), with its reason.
        try {
          await harness.homes.hosts.prepare();
        } catch (err) {
          await harness.close();
          throw new PyhostError('ERR_TENANT_HOST', `Harness.start: ${(err as Error).message}`);
        }
      }
      return harness;
    } catch (err) {
      if (homes?.kind === 'interpreter' && homes.ownsEngine) await homes.engine.close();
      throw err;
    }
  }

  private makeHostPool(python: string | undefined): HostPool {
    const build = resolveBuild(python);
    const base: NodeJS.ProcessEnv = {};
    for (const key of [...BASE_ENVIRONMENT, 'LD_LIBRARY_PATH']) if (process.env[key] !== undefined) base[key] = process.env[key];
    // Fewer malloc arenas: less address space per thread (memoryLimit counts address space).
    base.MALLOC_ARENA_MAX = '2';
    const env = daemonEnvironment(build, base);
    const args = ['--tenant-host', '--program', build.executable, '--deadlock-timeout', '0', '--shutdown-timeout', '1', ...errorStatusArgs()];
    if (this.s.memoryLimit > 0) args.push('--memory-limit', String(this.s.memoryLimit));
    const binary = daemonProgram(build, 'Harness');
    const spec: SpawnSpec = { binary, args, env, argv0: 'pyhost-tenant-host', startupTimeout: 30_000 };
    return new HostPool({
      spec,
      dir: this.tmp,
      tenantsPerProcess: this.s.tenantsPerProcess,
      recycleRss: this.s.recycleMemory,
      logger: this.logger,
      onReady: (host) => this.fillHostPool(host),
      onLost: (host, reason) => this.onHostLost(host, reason),
    });
  }

  private poolTarget = 0;

  private setPoolTarget(n: number): void {
    this.poolTarget = n;
    if (this.homes.kind === 'interpreter') {
      if (n === 0) poolTargets.delete(this);
      else poolTargets.set(this, { gil: this.s.gil, n });
      let sum = 0;
      for (const t of poolTargets.values()) if (t.gil === this.s.gil) sum += t.n;
      this.homes.engine.native.poolSetTarget(this.s.gil, true, sum, poolPrelude(this.pythonExecutable));
    } else {
      for (const host of this.homes.hosts.list()) this.fillHostPool(host);
    }
  }

  private fillHostPool(host: TenantHost): void {
    // A host never holds more tenants than tenantsPerProcess: no more warm interpreters either.
    host.pool(this.s.gil, true, Math.min(this.poolTarget, this.s.tenantsPerProcess), poolPrelude(this.pythonExecutable), tenantInstaller(this.pythonExecutable));
  }

  /** Warm interpreters ready now (isolation 'interpreter'; 0 otherwise). */
  get poolIdle(): number {
    return this.homes.kind === 'interpreter' ? this.homes.engine.native.poolStats(this.s.gil, true).idle : 0;
  }

  /** Adapts the pool to recent demand ('auto'): tenants asked for in the last second. */
  private noteDemand(): void {
    if (this.s.pool !== 'auto') return;
    const now = Date.now();
    this.demand = this.demand.filter((t) => now - t < 1000);
    this.demand.push(now);
    const target = Math.min(32, Math.max(2, this.demand.length));
    if (target !== this.poolTarget) this.setPoolTarget(target);
  }

  /** Resident memory of the harness: this process, and its host processes. */
  rss(): number {
    return process.memoryUsage.rss() + (this.homes.kind === 'process' ? this.homes.hosts.rss() : 0);
  }

  /** A new tenant (names are unique among live tenants). */
  async tenant(name: string, options: TenantOptions = {}): Promise<Tenant> {
    if (this.closing) throw new PyhostError('ERR_ENGINE_CLOSED', 'the harness is closed');
    checkKnownKeys(`tenant ${name}`, options, TENANT_KEYS);
    if (typeof name !== 'string' || !name) throw invalid('tenant', 'name must be a non-empty string');
    if (this.tenants.has(name)) throw invalid(`tenant ${name}`, 'a live tenant already has this name');
    if (this.tenants.size >= this.s.maxTenants) {
      throw new PyhostError('ERR_TOO_MANY_TENANTS', `tenant ${name}: the harness already has ${this.tenants.size} tenants (maxTenants)`);
    }
    if (this.s.memoryBudget > 0 && this.rss() > this.s.memoryBudget) {
      throw new PyhostError('ERR_MEMORY_BUDGET', `tenant ${name}: harness memory ${this.rss()} bytes is over the budget of ${this.s.memoryBudget}`);
    }
    const what = `tenant ${name}`;
    const pythonPath = stringArrayOption(what, 'pythonPath', options.pythonPath).map((p) => path.resolve(p));
    if (options.env !== undefined && (typeof options.env !== 'object' || options.env === null || Object.values(options.env).some((v) => typeof v !== 'string'))) {
      throw invalid(what, 'env must map names to strings');
    }
    const spec: TenantSpec = {
      name,
      pythonPath,
      env: options.env ?? {},
      preload: stringArrayOption(what, 'preload', options.preload),
      requires: stringArrayOption(what, 'requires', options.requires),
    };
    if (options.files) {
      const dir = path.join(this.tmp, `${++this.serial}-${name.replace(/[^\w.-]/g, '_')}`);
      for (const [rel, content] of Object.entries(options.files)) {
        const file = path.join(dir, rel);
        if (!file.startsWith(dir + path.sep)) throw invalid(what, `file ${rel} is outside the tenant's directory`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content);
      }
      pythonPath.unshift(dir);
    }
    this.noteDemand();
    const tenant = new Tenant(spec, await this.setUp(spec, undefined), this);
    this.tenants.set(name, tenant);
    this.adopt(tenant, tenant.runtime);
    return tenant;
  }

  /** Counts a runtime's tenant on its host (one that died meanwhile re-creates it at once). */
  private adopt(tenant: Tenant, runtime: TenantRuntime): void {
    const host = this.hostOf.get(runtime);
    if (!host || this.homes.kind !== 'process') return;
    if (host.state === 'dead') {
      this.hostOf.delete(runtime);
      queueMicrotask(() => {
        if (tenant.isClosed) return;
        tenant.recreating(this.recreate(tenant));
        this.emit('restart', tenant, 'its host process died as the tenant was placed there');
      });
      return;
    }
    this.homes.hosts.take(host, tenant);
  }

  private groupName(name: string): string {
    // Numbered across the process: harnesses sharing the process's Python must not both name a
    // group tenant:t#1 (a group name belongs to one Engine).
    return `tenant:${name}#${++groupSerial}`;
  }

  /** A runtime of the given placement: a new group in this process or in a host process. */
  private async makeRuntime(placement: Placement, near: TenantHost | undefined, fellBack: boolean): Promise<TenantRuntime> {
    const name = placement === 'global' ? GLOBAL_GROUP : this.groupName('t');
    // Tenants refuse single-phase extensions (the probe placed them), except one the fallback put
    // in a shared-GIL interpreter because of such an extension.
    const strict = isStrict(placement === 'global' ? 'main' : placement, fellBack ? 'legacy' : 'strict');
    if (this.homes.kind === 'interpreter') {
      const engine = this.homes.engine;
      const group: Group = placement === 'global'
        ? engine.group(GLOBAL_GROUP)
        : engine.group(name, { gil: placement, threads: this.s.threads, fallback: 'error', extensions: strict ? 'strict' : 'legacy', pooled: strict });
      if (!group.native.pooled) await group.exec(tenantInstaller(this.pythonExecutable));
      return new InterpreterRuntime(engine, group, placement);
    }
    const host = near && near.state === 'ready' ? near : await this.homes.hosts.place();
    const runtime = new HostRuntime(host, {
      name,
      kind: placement === 'global' ? 'main' : placement,
      strict,
      pooled: placement !== 'global' && strict,
      threads: this.s.threads,
      path: [],
    }, placement);
    this.hostOf.set(runtime, host);
    return runtime;
  }

  /** Runs a set-up request in a tenant's runtime; a failure is thrown as ERR_TENANT_SETUP. */
  private async setupCall<T>(spec: TenantSpec, runtime: TenantRuntime, request: unknown[]): Promise<T> {
    const outcome = await runtime.dispatch(request);
    if (outcome.kind === 'done') return JSON.parse(outcome.text) as T;
    if (outcome.kind === 'crashed') throw new HostLost(`tenant ${spec.name}: set-up failed: its host process died (${outcome.reason})`);
    const why = outcome.kind === 'failed' ? outcome.message : 'it is stuck';
    throw new PyhostError('ERR_TENANT_SETUP', `tenant ${spec.name}: set-up failed: ${why}`);
  }

  /**
   * Where a tenant with these requirements goes: its modules are imported first in a throwaway
   * process (extension-probe.ts), so an extension that refuses sub-interpreters is never
   * initialised in one.
   */
  private async placementFor(spec: TenantSpec): Promise<{ placement: Placement; fallbackReason?: string }> {
    if (!spec.requires.length) return { placement: this.s.gil };
    let probe;
    try {
      probe = await probeExtensions(this.pythonExecutable, spec.requires, spec.pythonPath);
    } catch (err) {
      throw new PyhostError('ERR_PREFLIGHT', `tenant ${spec.name}: ${(err as Error).message}`);
    }
    const failed = Object.entries(probe.errors)[0];
    if (failed) throw new PyhostError('ERR_PREFLIGHT', `tenant ${spec.name}: required module ${failed[0]} cannot be imported: ${failed[1]}`);
    const refused = Object.entries(probe.refusing).find(([, ext]) => ext);
    if (!refused) return { placement: this.s.gil };
    const [module, ext] = refused;
    const fallbackReason = `extension module ${ext}${ext === module ? '' : ` (imported by ${module})`} does not support sub-interpreters`;
    const placement = tenantFallback(this.s.fallback);
    if (!placement) throw new PyhostError('ERR_EXTENSION_REFUSED', `tenant ${spec.name}: ${fallbackReason}`);
    this.logger.warn(`tenant ${spec.name} runs in ${placement === 'global' ? '%{GLOBAL}' : 'a shared-GIL sub-interpreter'}: ${fallbackReason}`);
    return { placement, fallbackReason };
  }

  /**
   * Installs and configures a tenant in a fresh runtime. A host that dies meanwhile (another of
   * its tenants crashed it) is not the new tenant's fault: it is set up again in another.
   */
  private async setUp(spec: TenantSpec, near: TenantHost | undefined): Promise<TenantSetup> {
    const { placement, fallbackReason } = await this.placementFor(spec);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.setUpIn(spec, await this.makeRuntime(placement, attempt === 1 ? near : undefined, fallbackReason !== undefined), fallbackReason);
      } catch (err) {
        if (!(err instanceof HostLost) || attempt >= HOST_LOST_RETRIES) throw err;
      }
    }
  }

  private async setUpIn(spec: TenantSpec, runtime: TenantRuntime, fallbackReason: string | undefined): Promise<TenantSetup> {
    try {
      await this.configure(spec, runtime);
      if (spec.requires.length) {
        const failed = await this.setupCall<[string, string][]>(spec, runtime, ['preflight', spec.requires]);
        if (failed.length) {
          throw new PyhostError('ERR_PREFLIGHT', `tenant ${spec.name}: required module ${failed[0][0]} cannot be imported in its interpreter: ${failed[0][1]}`);
        }
      }
      for (const mod of spec.preload) {
        const r = await this.setupCall<{ error: { message: string } | null }>(spec, runtime, ['call', 'importlib:import_module', [mod], {}, { maxOutput: MiB, maxValue: MiB }]);
        if (r.error) throw new PyhostError('ERR_PRELOAD', `tenant ${spec.name}: preload ${mod}: ${r.error.message}`);
      }
    } catch (err) {
      await this.discard(runtime);
      throw err;
    }
    return { runtime, fallbackReason };
  }

  /** Applies sys.path, the os.environ view, the closed modules and interruptible waits. */
  private async configure(spec: TenantSpec, runtime: TenantRuntime): Promise<void> {
    const shared = runtime.placement === 'global';
    // %{GLOBAL} is shared by every tenant placed there (in its process): no per-tenant view, and
    // its modules are left alone. An own GIL is the tenant's alone: a short switch interval there
    // costs no one else and lets an interrupt in within a millisecond.
    await this.setupCall(spec, runtime, [
      'configure',
      spec.pythonPath,
      shared ? {} : spec.env,
      runtime.placement === 'own' ? 0.001 : null,
      { isolate: !shared, baseEnv: BASE_ENVIRONMENT, interruptibleWaits: true },
    ]);
  }

  /** Ends a runtime nobody uses (a failed set-up). */
  private async discard(runtime: TenantRuntime): Promise<void> {
    if (runtime.groupName === GLOBAL_GROUP) return;
    await runtime.drop(this.s.closeTimeout);
    this.hostOf.delete(runtime);
  }

  /** @internal TenantOwner */
  async recreate(tenant: Tenant): Promise<TenantSetup> {
    if (this.closing) throw new PyhostError('ERR_ENGINE_CLOSED', 'the harness is closed');
    this.noteDemand();
    const setup = await this.setUp(tenant.spec, undefined);
    this.adopt(tenant, setup.runtime);
    return setup;
  }

  /** @internal TenantOwner: stops the tenant's threads in an old set-up and ends its interpreter. */
  async retire(tenant: Tenant, setup: TenantSetup): Promise<void> {
    const runtime = setup.runtime;
    const host = this.hostOf.get(runtime);
    this.hostOf.delete(runtime);
    try {
      if (runtime.groupName === GLOBAL_GROUP || (host && host.state === 'dead')) return;
      if (!tenant.quarantined) {
        await runtime.dispatch(['stop_threads', this.s.closeTimeout / 1000]);
      }
      const outcome = await runtime.drop(this.s.closeTimeout);
      if (outcome !== 'ended') {
        if (host && this.homes.kind === 'process') {
          // A host that cannot end an interpreter takes no new tenants; it ends with its last one.
          this.logger.warn(`tenant ${tenant.name}: its interpreter could not be ended (a thread would not stop); ${host.describe} will be replaced`, runtime.groupName);
          this.homes.hosts.drain(host);
        } else {
          this.quarantinedGroups.push(runtime.groupName);
          tenant.quarantine(`its threads did not stop within ${this.s.closeTimeout} ms`);
          this.logger.warn(`tenant ${tenant.name}: its interpreter could not be ended (${outcome}); quarantined`, runtime.groupName);
        }
      }
    } finally {
      if (host && this.homes.kind === 'process') this.homes.hosts.release(host, tenant);
    }
  }

  /** @internal TenantOwner */
  async stuck(tenant: Tenant, runtime: TenantRuntime): Promise<void> {
    const host = this.hostOf.get(runtime);
    if (host) {
      this.logger.warn(`tenant ${tenant.name}: a call did not stop within ${this.s.timeoutGrace} ms of its timeout; replacing ${host.describe}`, runtime.groupName);
      host.kill();
      await host.exited; // its tenants are being re-created (onHostLost)
      return;
    }
    tenant.quarantine(`a call did not stop within ${this.s.timeoutGrace} ms of its timeout (stuck in C code that holds the GIL, or catching every exception)`);
    this.logger.warn(`tenant ${tenant.name}: ${tenant.quarantineReason}; quarantined`, runtime.groupName);
  }

  /** @internal TenantOwner */
  forget(tenant: Tenant): void {
    if (this.tenants.get(tenant.name) === tenant) this.tenants.delete(tenant.name);
  }

  /** A host died under its tenants: each is re-created in a fresh host, and flagged. */
  private onHostLost(host: TenantHost, reason: string): void {
    const lost = [...host.tenants] as Tenant[];
    for (const [runtime, h] of this.hostOf) if (h === host) this.hostOf.delete(runtime);
    if (lost.length) this.logger.warn(`${host.describe} died (${reason}); re-creating its tenants: ${lost.map((t) => t.name).join(', ')}`);
    for (const tenant of lost) {
      if (tenant.isClosed) continue;
      tenant.recreating(this.recreate(tenant));
      this.emit('restart', tenant, reason);
    }
  }

  /** Live tenants. */
  list(): Tenant[] {
    return [...this.tenants.values()];
  }

  stats(): { tenants: number; quarantined: number; poolIdle: number; rss: number; hosts: number } {
    return {
      tenants: this.tenants.size,
      quarantined: this.quarantinedGroups.length + this.list().filter((t) => t.quarantined).length,
      poolIdle: this.poolIdle,
      rss: this.rss(),
      hosts: this.homes.kind === 'process' ? this.homes.hosts.list().length : 0,
    };
  }

  /** Closes every tenant (bounded), then the host processes, or the engine if the harness started it. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.homes.kind === 'interpreter') {
      this.setPoolTarget(0);
      await Promise.all(this.list().map((t) => t.close()));
      if (this.homes.ownsEngine) await this.homes.engine.close();
    } else {
      // The hosts end with their interpreters: nothing to end one by one.
      for (const t of this.list()) {
        t.markClosed();
        this.forget(t);
      }
      await this.homes.hosts.close();
    }
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
