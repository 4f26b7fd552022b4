// Runs the same Python test module in 50 tenants at once, each an isolated own-GIL
// sub-interpreter (Python 3.12+), and prints a pass/fail table per tenant.
//
//   node examples/harness-50.mjs [python3.13]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Harness } from 'pyhost/harness';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = fs.readFileSync(path.join(here, 'harness', 'test_tenant.py'), 'utf8');
const python = process.argv[2] ?? process.env.PYHOST_PYTHON;

const harness = await Harness.start({ python, gil: 'own', pool: 8 });
const started = performance.now();
const rows = await Promise.all(
  Array.from({ length: 50 }, async (_, i) => {
    const name = `tenant-${i}`;
    const tenant = await harness.tenant(name, {
      files: { 'test_tenant.py': source },
      env: { TENANT: name, EXPECTED_TENANT: name },
    });
    const r = await tenant.call('test_tenant:run_all', [], { timeout: 5000 });
    await tenant.close();
    return { name, placement: tenant.placement, ms: r.ms, results: r.error ? { error: `${r.error.type}: ${r.error.message}` } : r.value };
  }),
);
const elapsed = performance.now() - started;
const tests = Object.keys(rows.find((r) => !r.results.error)?.results ?? {});
console.log(['tenant'.padEnd(10), 'gil'.padEnd(6), ...tests.map((t) => t.replace('test_', '').padEnd(22))].join(' '));
for (const r of rows) {
  const cells = r.results.error ? [r.results.error] : tests.map((t) => (r.results[t] === 'pass' ? 'pass' : 'FAIL').padEnd(22));
  console.log([r.name.padEnd(10), r.placement.padEnd(6), ...cells].join(' '));
}
const failed = rows.filter((r) => r.results.error || Object.values(r.results).some((v) => v !== 'pass')).length;
console.log(`\n${rows.length} tenants in ${elapsed.toFixed(0)} ms: ${rows.length - failed} all passing, ${failed} with failures`);
await harness.close();
