/**
 * pyhost/harness: isolated Python tenants, in supervised host processes (or, for trusted code, in
 * this process), for test harnesses, graders, plugin hosts and multi-tenant staging. Not a
 * security sandbox: see the README's security model.
 *
 * ```ts
 * import { Harness } from 'pyhost/harness';
 * const harness = await Harness.start({ python: 'python3.13' });
 * const t = await harness.tenant('alice', { files: { 'solution.py': 'def add(a, b): return a + b' } });
 * const r = await t.call('solution:add', [1, 2], { timeout: 1000 }); // r.value === 3
 * await harness.close();
 * ```
 */
export { Harness, BASE_ENVIRONMENT, type HarnessOptions, type TenantOptions } from './harness.js';
export { Tenant, type RunOptions, type RequestOptions, type Placement } from './tenant.js';
export type { RunResult, RequestResult, TenantError, TenantErrorCode } from './results.js';
export type { CollectedResponse } from '../http/collecting-writer.js';
