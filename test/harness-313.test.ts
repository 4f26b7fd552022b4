/**
 * The multi-tenant harness on Python 3.13 with own-GIL tenants, in both isolation modes
 * (test/harness-suite.ts).
 */
import test from 'ava';
import { registerHarnessSuite } from './harness-suite.js';
import { PY313 } from './helpers/pythons.js';

registerHarnessSuite(test, { python: PY313, isolation: 'process' });
registerHarnessSuite(test, { python: PY313, isolation: 'interpreter' });
