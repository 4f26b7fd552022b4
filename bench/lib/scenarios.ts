/**
 * The HTTP scenarios: which app, which request, and the exact answer every peer must give.
 *
 * Expected bytes come from two independent sources that must agree before anything is measured:
 * bytes computed here in TypeScript (hello, 64k, upload) and the app's own answer computed
 * in-process by bench/apps/reference.py through wsgiref.validate (for flask, the only source).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BYTES64K_BODY, HELLO_BODY, UPLOAD_REQUEST, sha256hex, uploadAnswer } from './payloads.js';
import { run } from './proc.js';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.resolve(BENCH_DIR, '..');
export const APPS_DIR = path.join(BENCH_DIR, 'apps');

/** The Python every Debian peer runs on (gunicorn, uWSGI's plugin, waitress and mod_wsgi all use 3.11). */
export const DEBIAN_PYTHON = process.env.PYHOST_BENCH_PYTHON ?? '/usr/bin/python3.11';

export type ScenarioId = 'hello' | '64k' | 'upload' | 'flask';
export const SCENARIO_IDS: ScenarioId[] = ['hello', '64k', 'upload', 'flask'];

export interface AppSpec {
  /** Python module name in bench/apps (gunicorn/waitress "module:application"). */
  module: string;
  /** Absolute path of the script (mod_wsgi WSGIScriptAlias, uWSGI --wsgi-file, pyhost). */
  file: string;
  /** bench/apps */
  dir: string;
  callable: 'application';
}

export interface Scenario {
  id: ScenarioId;
  title: string;
  app: AppSpec;
  method: 'GET' | 'POST';
  path: string;
  requestBody?: Buffer;
  requestContentType?: string;
  /** Python modules the app needs, with the Debian packages providing them. */
  pythonModules: Array<{ module: string; package: string }>;
  expected: { status: number; contentType: string; body: Buffer };
  /** Files handed to wrk's check.lua (filled by prepareScenarios). */
  files?: { expectedBody: string; requestBody?: string };
}

function app(module: string): AppSpec {
  return { module, file: path.join(APPS_DIR, `${module}.py`), dir: APPS_DIR, callable: 'application' };
}

export function allScenarios(): Scenario[] {
  return [
    {
      id: 'hello',
      title: 'Hello world (13 B text/plain)',
      app: app('hello'),
      method: 'GET',
      path: '/',
      pythonModules: [],
      expected: { status: 200, contentType: 'text/plain', body: HELLO_BODY },
    },
    {
      id: '64k',
      title: '64 KiB response',
      app: app('bytes64k'),
      method: 'GET',
      path: '/',
      pythonModules: [],
      expected: { status: 200, contentType: 'application/octet-stream', body: BYTES64K_BODY },
    },
    {
      id: 'upload',
      title: '1 MiB upload (POST, app hashes wsgi.input)',
      app: app('upload'),
      method: 'POST',
      path: '/',
      requestBody: UPLOAD_REQUEST,
      requestContentType: 'application/octet-stream',
      pythonModules: [],
      expected: { status: 200, contentType: 'text/plain', body: uploadAnswer(UPLOAD_REQUEST.length, sha256hex(UPLOAD_REQUEST)) },
    },
    {
      id: 'flask',
      title: 'Flask page (Jinja template with a loop)',
      app: app('flask_app'),
      method: 'GET',
      path: '/',
      pythonModules: [{ module: 'flask', package: 'python3-flask' }],
      // Filled from the reference answer in prepareScenarios().
      expected: { status: 200, contentType: 'text/html; charset=utf-8', body: Buffer.alloc(0) },
    },
  ];
}

interface Reference {
  status: string;
  headers: Array<[string, string]>;
  body_b64: string;
}

/**
 * Compute every scenario's reference answer with DEBIAN_PYTHON, check it against the bytes
 * computed here, and write the files check.lua reads into `workDir`. Throws when the app and the
 * expectation disagree (a broken app must never be benchmarked).
 */
export async function prepareScenarios(scenarios: Scenario[], workDir: string): Promise<void> {
  fs.mkdirSync(workDir, { recursive: true });
  for (const s of scenarios) {
    let requestFile: string | undefined;
    if (s.requestBody) {
      requestFile = path.join(workDir, `request-${s.id}.bin`);
      fs.writeFileSync(requestFile, s.requestBody);
    }
    const args = [path.join(APPS_DIR, 'reference.py'), s.app.module, ...(requestFile ? [requestFile] : [])];
    const r = await run(DEBIAN_PYTHON, args, { timeoutMs: 60000, cwd: APPS_DIR, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    if (r.code !== 0) throw new Error(`reference answer of bench/apps/${s.app.module}.py failed (exit ${r.code}):\n${r.output}`);
    const ref = JSON.parse(r.stdout) as Reference;
    const body = Buffer.from(ref.body_b64, 'base64');
    const status = Number(ref.status.split(' ')[0]);
    const ctype = ref.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1];
    const clen = ref.headers.find(([k]) => k.toLowerCase() === 'content-length')?.[1];
    const problems: string[] = [];
    if (status !== s.expected.status) problems.push(`status ${ref.status}, want ${s.expected.status}`);
    if (ctype !== s.expected.contentType) problems.push(`Content-Type ${ctype}, want ${s.expected.contentType}`);
    if (clen !== String(body.length)) problems.push(`Content-Length ${clen} for a ${body.length}-byte body`);
    if (s.id === 'flask') {
      if (body.length < 100 || !body.includes('ITEM-20')) problems.push(`Flask page looks wrong (${body.length} bytes)`);
      s.expected.body = body;
    } else if (!body.equals(s.expected.body)) {
      problems.push(`body (${body.length} bytes, sha256 ${sha256hex(body)}) differs from the expected bytes (${s.expected.body.length} bytes, sha256 ${sha256hex(s.expected.body)})`);
    }
    if (problems.length > 0) throw new Error(`bench/apps/${s.app.module}.py does not give the expected answer: ${problems.join('; ')}`);
    const expectedFile = path.join(workDir, `expected-${s.id}.bin`);
    fs.writeFileSync(expectedFile, s.expected.body);
    s.files = { expectedBody: expectedFile, ...(requestFile ? { requestBody: requestFile } : {}) };
  }
}
