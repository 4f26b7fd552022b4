/**
 * Harness: many isolated Python tenants in one process, each an application group (a
 * sub-interpreter, own GIL by default on 3.12+), taken from a warm pool of interpreters that a
 * background thread keeps filled, so acquiring or resetting a tenant does not pay for creation.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine, type EngineOptions } from '../engine.js';
import { PyhostError } from '../errors.js';
import { GLOBAL_GROUP, type Group } from '../group.js';
import { checkKnownKeys, enumOption, intOption, invalid, stringArrayOption } from '../options.js';
import { Tenant, type Placement, type TenantSetup } from './tenant.js';
import { TENANT_INSTALLER } from './tenant-python.js';

export interface HarnessOptions {
  /** Python executable (needs 3.12+ for own-GIL tenants). */
  python?: string;
  /** Tenants' GIL: 'own' (default on 3.12+, parallel) or 'shared'. */
  gil?: 'own' | 'shared';
  /** Warm interpreters kept ready: a number, or 'auto' (default: follows demand, 2 to 32). */
  pool?: number | 'auto';
  /** Most live tenants (default 1000). */
  maxTenants?: number;
  /** New tenants are refused while the process's RSS exceeds this many bytes (0: no budget). */
  memoryBudget?: number;
  /** Where a tenant goes when a `requires` module refuses sub-interpreters (default 'global'). */
  fallback?: 'global' | 'shared' | 'error';
  /** Worker threads per tenant (default 1: a tenant runs one call at a time). */
  threads?: number;
  /** Milliseconds close() waits for a tenant's threads before quarantining it (default 5000). */
  closeTimeout?: number;
  /** Engine options (logger, pythonPath, ...), or an engine to share. */
  engine?: Engine | Omit<EngineOptions, 'python' | 'restrictEmbedded'>;
}

export interface TenantOptions {
  /** sys.path entries (site.addsitedir, first) for this tenant only. */
  pythonPath?: string[];
  /** The tenant's os.environ view gets these (the process environment is untouched). */
  env?: Record<string, string>;
  /** Files written to a directory of the tenant's own, which is put on its sys.path. */
  files?: Record<string, string | Buffer>;
  /** Modules imported when the tenant is created. */
  preload?: string[];
  /** Modules test-imported first: one that refuses sub-interpreters decides the placement. */
  requires?: string[];
}

const HARNESS_KEYS = ['python', 'gil', 'pool', 'maxTenants', 'memoryBudget', 'fallback', 'threads', 'closeTimeout', 'engine'] as const;
const TENANT_KEYS = ['pythonPath', 'env', 'files', 'preload', 'requires'] as const;

function processRss(): number {
  return process.memoryUsage.rss();
}

/** Pool targets of every live harness: the process's pool of a kind holds their sum. */
const poolTargets = new Map<Harness, { gil: 'own' | 'shared'; n: number }>();

export class Harness {
  private readonly tenants = new Map<string, Tenant>();
  private readonly quarantinedGroups: Group[] = [];
  private demand: number[] = [];
  private closing = false;
  private serial = 0;
  private readonly tmp: string;

  private constructor(
    readonly engine: Engine,
    private readonly ownsEngine: boolean,
    readonly gil: 'own' | 'shared',
    private readonly pool: number | 'auto',
    readonly maxTenants: number,
    readonly memoryBudget: number,
    readonly fallback: 'global' | 'shared' | 'error',
    readonly threads: number,
    readonly closeTimeout: number,
  ) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-harness-'));
    this.setPoolTarget(pool === 'auto' ? 2 : pool);
  }

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    checkKnownKeys('Harness.start', options, HARNESS_KEYS);
    const what = 'Harness.start';
    let engine: Engine;
    let owns = false;
    if (options.engine instanceof Engine) {
      engine = options.engine;
    } else {
      engine = await Engine.start({ ...(options.engine ?? {}), python: options.python });
      owns = true;
    }
    const [major, minor] = engine.pythonVersion.split('.').map(Number);
    const ownCapable = major > 3 || (major === 3 && minor >= 12);
    const gil = enumOption(what, 'gil', options.gil, ['own', 'shared'] as const, ownCapable ? 'own' : 'shared');
    if (gil === 'own' && !ownCapable) {
      if (owns) await engine.close();
      throw new PyhostError('ERR_OWN_GIL_UNSUPPORTED', `Harness: gil 'own' needs Python 3.12+; this is Python ${engine.pythonVersion}`);
    }
    const pool = options.pool === undefined || options.pool === 'auto' ? 'auto' : intOption(what, 'pool', options.pool, 2, 0, 1024);
    return new Harness(
      engine,
      owns,
      gil,
      pool,
      intOption(what, 'maxTenants', options.maxTenants, 1000, 1, 1_000_000),
      intOption(what, 'memoryBudget', options.memoryBudget, 0, 0, Number.MAX_SAFE_INTEGER),
      enumOption(what, 'fallback', options.fallback, ['global', 'shared', 'error'] as const, 'global'),
      intOption(what, 'threads', options.threads, 1, 1, 64),
      intOption(what, 'closeTimeout', options.closeTimeout, 5000, 0, 600_000),
    );
  }

  private setPoolTarget(n: number): void {
    if (n === 0) poolTargets.delete(this);
    else poolTargets.set(this, { gil: this.gil, n });
    let sum = 0;
    for (const t of poolTargets.values()) if (t.gil === this.gil) sum += t.n;
    this.engine.native.poolSetTarget(this.gil, true, sum, TENANT_INSTALLER);
  }

  /** Warm interpreters ready now. */
  get poolIdle(): number {
    return this.engine.native.poolStats(this.gil, true).idle;
  }

  /** Adapts the pool to recent demand ('auto'): tenants asked for in the last second. */
  private noteDemand(): void {
    if (this.pool !== 'auto') return;
    const now = Date.now();
    this.demand = this.demand.filter((t) => now - t < 1000);
    this.demand.push(now);
    this.setPoolTarget(Math.min(32, Math.max(2, this.demand.length)));
  }

  /** A new tenant (names are unique among live tenants). */
  async tenant(name: string, options: TenantOptions = {}): Promise<Tenant> {
    if (this.closing) throw new PyhostError('ERR_ENGINE_CLOSED', 'the harness is closed');
    checkKnownKeys(`tenant ${name}`, options, TENANT_KEYS);
    if (typeof name !== 'string' || !name) throw invalid('tenant', 'name must be a non-empty string');
    if (this.tenants.has(name)) throw invalid(`tenant ${name}`, 'a live tenant already has this name');
    if (this.tenants.size >= this.maxTenants) {
      throw new PyhostError('ERR_TOO_MANY_TENANTS', `tenant ${name}: the harness already has ${this.tenants.size} tenants (maxTenants)`);
    }
    if (this.memoryBudget > 0 && processRss() > this.memoryBudget) {
      throw new PyhostError('ERR_MEMORY_BUDGET', `tenant ${name}: process memory ${processRss()} bytes is over the budget of ${this.memoryBudget}`);
    }
    const pythonPath = stringArrayOption(`tenant ${name}`, 'pythonPath', options.pythonPath).map((p) => path.resolve(p));
    if (options.files) {
      const dir = path.join(this.tmp, `${++this.serial}-${name.replace(/[^\w.-]/g, '_')}`);
      for (const [rel, content] of Object.entries(options.files)) {
        const file = path.join(dir, rel);
        if (!file.startsWith(dir + path.sep)) throw invalid(`tenant ${name}`, `file ${rel} is outside the tenant's directory`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content);
      }
      pythonPath.unshift(dir);
    }
    const env = options.env ?? {};
    const make = () => this.setUp(name, pythonPath, env, options);
    this.noteDemand();
    const setup = await make();
    const tenant = new Tenant(name, setup, this.engine.native, make, (t, group) => this.release(t, group));
    this.tenants.set(name, tenant);
    return tenant;
  }

  private groupName(name: string): string {
    return `tenant:${name}#${++this.serial}`;
  }

  private async setUp(name: string, pythonPath: string[], env: Record<string, string>, options: TenantOptions): Promise<TenantSetup> {
    let placement: Placement = this.gil;
    let group = this.engine.group(this.groupName(name), { gil: this.gil, threads: this.threads, fallback: 'error', extensions: 'strict', pooled: true });
    let fallbackReason: string | undefined;
    await this.install(group, pythonPath, env);
    const requires = stringArrayOption(`tenant ${name}`, 'requires', options.requires);
    if (requires.length) {
      const failed = await group.call<[string, string][]>('_pyhost_tenant', 'preflight', [requires]);
      const refused = failed.find(([, msg]) => msg.includes('does not support loading in subinterpreters'));
      const other = failed.find(([, msg]) => !msg.includes('does not support loading in subinterpreters'));
      if (other) {
        await this.discard(group);
        throw new PyhostError('ERR_PREFLIGHT', `tenant ${name}: required module ${other[0]} cannot be imported: ${other[1]}`);
      }
      if (refused) {
        fallbackReason = `extension module ${refused[0]} does not support sub-interpreters (${refused[1]})`;
        if (this.fallback === 'error') {
          await this.discard(group);
          throw new PyhostError('ERR_EXTENSION_REFUSED', `tenant ${name}: ${fallbackReason}`);
        }
        await this.discard(group);
        if (this.fallback === 'shared') {
          placement = 'shared';
          group = this.engine.group(this.groupName(name), { gil: 'shared', threads: this.threads, extensions: 'legacy', fallback: 'error' });
        } else {
          placement = 'global';
          group = this.engine.group(GLOBAL_GROUP);
        }
        await this.install(group, pythonPath, env);
        const again = await group.call<[string, string][]>('_pyhost_tenant', 'preflight', [requires]);
        if (again.length) throw new PyhostError('ERR_PREFLIGHT', `tenant ${name}: ${again[0][0]} still cannot be imported in ${placement}: ${again[0][1]}`);
        this.engine.logger.warn(`tenant ${name} runs in ${placement === 'global' ? '%{GLOBAL}' : 'a shared-GIL sub-interpreter'}: ${fallbackReason}`, group.name);
      }
    }
    for (const mod of stringArrayOption(`tenant ${name}`, 'preload', options.preload)) {
      await group.call('importlib', 'import_module', [mod]);
    }
    return { group, placement, fallbackReason };
  }

  /** Installs the tenant module (pooled interpreters have it) and applies sys.path and the os.environ view. */
  private async install(group: Group, pythonPath: string[], env: Record<string, string>): Promise<void> {
    // A warm interpreter ran the installer as its prelude: compiling it again would cost more
    // than the rest of taking a tenant.
    if (!group.native.pooled) await group.exec(TENANT_INSTALLER);
    // %{GLOBAL} is shared by every tenant placed there: no per-tenant environ view (documented).
    // An own GIL is the tenant's alone: a short switch interval there costs no one else.
    const switchInterval = group.kind === 'own' ? 0.001 : null;
    await group.call('_pyhost_tenant', 'configure', [pythonPath, group.name === GLOBAL_GROUP ? {} : env, switchInterval]);
  }

  private async discard(group: Group): Promise<void> {
    if (group.name === GLOBAL_GROUP) return;
    await this.engine.dropGroup(group.name, this.closeTimeout);
  }

  private async release(t: Tenant, group: Group): Promise<void> {
    if (this.tenants.get(t.name) === t && group === t.group) this.tenants.delete(t.name);
    if (group.name === GLOBAL_GROUP) return;
    const outcome = await this.engine.dropGroup(group.name, this.closeTimeout);
    if (outcome !== 'ended') {
      this.quarantinedGroups.push(group);
      t.markQuarantined(`its threads did not stop within ${this.closeTimeout} ms`);
      this.engine.logger.warn(`tenant ${t.name}: its interpreter could not be ended (${outcome}); quarantined`, group.name);
    }
  }

  /** Live tenants. */
  list(): Tenant[] {
    return [...this.tenants.values()];
  }

  stats(): { tenants: number; quarantined: number; poolIdle: number; rss: number } {
    return {
      tenants: this.tenants.size,
      quarantined: this.quarantinedGroups.length + this.list().filter((t) => t.quarantined).length,
      poolIdle: this.poolIdle,
      rss: processRss(),
    };
  }

  /** Closes every tenant (bounded), then the engine if the harness started it. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.setPoolTarget(0);
    await Promise.all(this.list().map((t) => t.close()));
    fs.rmSync(this.tmp, { recursive: true, force: true });
    if (this.ownsEngine) await this.engine.close();
  }
}
