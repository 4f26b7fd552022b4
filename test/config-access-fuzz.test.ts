/**
 * Randomized differential check of access control: one configuration of many generated
 * `<Location>` sections (each with a random tree of Require lines and containers, `Require
 * not`, `<Limit>`/`<LimitExcept>`, Order/Allow/Deny/Satisfy, AuthType Basic with users and
 * groups, SetEnvIf, AuthzSendForbiddenOnFailure, and a nested `<Location>` merged with
 * AuthMerging Off/And/Or), generated from a seeded grammar that only writes what Apache
 * accepts, served by Apache + mod_wsgi and by pyhost. Every location is requested from two
 * client addresses, with and without valid credentials, GET and POST: status and
 * WWW-Authenticate must match, and above all pyhost must never answer 2xx where Apache
 * answers 401 or 403. `PYHOST_FUZZ_SEED=n` replays a run; `PYHOST_FUZZ_SECTIONS` sets the size.
 */
import test from 'ava';
import path from 'node:path';
import { apacheAvailable } from './helpers/apache.js';
import { basic, htpasswdAvailable, startPair, writeUserFiles, type AccessPair } from './helpers/access-fixtures.js';
import { copyApps, send, worldTempDir, type Exchange } from './helpers/config-serve.js';

const available = apacheAvailable() && htpasswdAvailable();
const SEED = Number(process.env.PYHOST_FUZZ_SEED ?? Date.now() % 100000);
const SECTIONS = Number(process.env.PYHOST_FUZZ_SECTIONS ?? 60);

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Grammar {
  constructor(private readonly r: () => number) {}
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.r() * xs.length)]!; }
  chance(p: number): boolean { return this.r() < p; }

  provider(): string {
    return this.pick([
      'all granted', 'all denied', 'ip 127.0.0.1', 'ip 127.0.0.2', 'ip 127.0.0.0/8', 'ip 10.0.0.1', 'local', 'method GET',
      'method POST', 'valid-user', 'user alice', 'user bob dave', 'group admins', 'group staff', 'env fz_pass',
    ]);
  }

  /** A container's children: `negOk` when inside <RequireAll> (negations allowed). */
  children(depth: number, negOk: boolean, indent: string): string[] {
    const out: string[] = [];
    const n = 1 + Math.floor(this.r() * 3);
    let positive = false;
    for (let i = 0; i < n; i++) {
      const last = i === n - 1;
      const mustPositive = negOk && last && !positive;
      if (depth < 2 && this.chance(0.3)) {
        const kind = negOk && !mustPositive && this.chance(0.3) ? 'RequireNone' : this.pick(['RequireAll', 'RequireAny']);
        if (kind !== 'RequireNone') positive = true;
        out.push(`${indent}<${kind}>`, ...this.children(depth + 1, kind === 'RequireAll', `${indent}    `), `${indent}</${kind}>`);
      } else if (negOk && !mustPositive && this.chance(0.3)) {
        out.push(`${indent}Require not ${this.provider()}`);
      } else {
        positive = true;
        out.push(`${indent}Require ${this.provider()}`);
      }
    }
    return out;
  }

  /** The body of one section. */
  block(files: { users: string; groups: string }, realm: string): string[] {
    const out: string[] = [];
    const req = this.children(0, false, '    ');
    if (this.chance(0.25)) {
      const [section, methods] = this.pick([['Limit', 'POST'], ['LimitExcept', 'GET'], ['Limit', 'GET']] as const);
      out.push(`    <${section} ${methods}>`, ...req.map((l) => `    ${l}`), `    </${section}>`);
    } else out.push(...req);
    if (this.chance(0.3)) {
      out.push(`    Order ${this.pick(['allow,deny', 'deny,allow', 'mutual-failure'])}`);
      if (this.chance(0.7)) out.push(`    Allow from ${this.pick(['all', '127.0.0.1', '127.0.0.2', '127.0', 'env=fz_pass'])}`);
      if (this.chance(0.5)) out.push(`    Deny from ${this.pick(['all', '127.0.0.2', '10.0.0.0/8', 'env=!fz_pass'])}`);
      if (this.chance(0.5)) out.push(`    Satisfy ${this.pick(['any', 'all'])}`);
    }
    if (this.chance(0.75)) {
      out.push('    AuthType Basic', `    AuthName "${realm}"`, `    AuthUserFile ${files.users}`, `    AuthGroupFile ${files.groups}`);
    }
    if (this.chance(0.15)) out.push('    AuthzSendForbiddenOnFailure On');
    if (this.chance(0.3)) out.push('    SetEnvIf X-Fz ^on$ fz_pass');
    return out;
  }

  site(files: { users: string; groups: string }, apps: string): string {
    const lines = [`WSGIScriptAlias /fz ${apps}/env.wsgi`, `<Directory ${apps}>`, '    Require all granted', '</Directory>'];
    for (let i = 0; i < SECTIONS; i++) {
      lines.push(`<Location /fz/${i}>`, ...this.block(files, `realm ${i}`), '</Location>');
      if (this.chance(0.6)) {
        lines.push(`<Location /fz/${i}/sub>`);
        const merging = this.pick(['', 'Off', 'And', 'Or']);
        if (merging) lines.push(`    AuthMerging ${merging}`);
        lines.push(...this.block(files, `sub ${i}`), '</Location>');
      }
    }
    return lines.join('\n');
  }
}

let pair: AccessPair | undefined;
let site = '';
let setupError: Error | undefined;

test.before(async () => {
  if (!available) return;
  const dir = worldTempDir('pyhost-access-fuzz-');
  const apps = copyApps(path.join(dir, 'apps'));
  site = new Grammar(rng(SEED)).site(writeUserFiles(dir), apps);
  try {
    pair = await startPair(dir, 'fuzz', site);
  } catch (e) {
    setupError = e as Error;
  }
});

test.after.always(async () => {
  if (pair) await Promise.all([pair.apache.stop(), pair.pyhost.stop()]);
});

test(`generated configurations (seed ${SEED}, ${SECTIONS} sections): same answers as Apache, never 2xx where Apache refuses`, async (t) => {
  if (!available) return void t.pass('apache2, mod_wsgi or htpasswd not installed');
  if (setupError) throw new Error(`seed ${SEED}: ${setupError.message}`);
  const p = pair!;
  const diffs: string[] = [];
  const opened: string[] = [];
  let refusals = 0;
  let requests = 0;
  const credentials: Array<[string, [string, string][]]> = [
    ['none', []], ['alice', [basic('alice', 'secret')]], ['dave', [basic('dave', 'pw-dave')]], ['alice wrong', [basic('alice', 'nope')]],
  ];
  const urls = Array.from({ length: SECTIONS }, (_, i) => [`/fz/${i}`, `/fz/${i}/sub`]).flat();
  // In batches, so neither server sees more than a few dozen connections at once.
  const jobs: (() => Promise<void>)[] = [];
  for (const url of urls) {
    for (const from of ['127.0.0.1', '127.0.0.2']) {
      for (const [who, headers] of credentials) {
        for (const method of ['GET', 'POST']) {
          const ex: Exchange = { method, target: url, from, headers: [...headers, ...(from === '127.0.0.2' ? [['X-Fz', 'on'] as [string, string]] : [])] };
          jobs.push(async () => {
            const [a, b] = await Promise.all([send(p.apache.port, ex), send(p.pyhostPort, ex)]);
            requests++;
            const sa = `${a.status} ${a.header('www-authenticate') ?? ''}`.trim();
            const sb = `${b.status} ${b.header('www-authenticate') ?? ''}`.trim();
            if (a.status === 401 || a.status === 403) refusals++;
            const label = `${method} ${url} from ${from} as ${who}`;
            if ((a.status === 401 || a.status === 403) && b.status >= 200 && b.status < 300) opened.push(`${label}: mod_wsgi ${sa} | pyhost ${sb}`);
            if (sa !== sb) diffs.push(`${label}: mod_wsgi ${sa} | pyhost ${sb}`);
          });
        }
      }
    }
  }
  for (let i = 0; i < jobs.length; i += 32) await Promise.all(jobs.slice(i, i + 32).map((j) => j()));
  t.log(`seed ${SEED}: ${requests} requests, ${refusals} refused by Apache, ${diffs.length} differences`);
  if (diffs.length) t.log(`${diffs.slice(0, 40).join('\n')}\n--- configuration (PYHOST_FUZZ_SEED=${SEED}) ---\n${site}`);
  t.true(refusals > requests / 10, 'the grammar produced refusals to compare');
  t.deepEqual(opened, [], 'pyhost answered 2xx where Apache answered 401 or 403');
  t.deepEqual(diffs, [], 'pyhost and Apache answered differently');
});
