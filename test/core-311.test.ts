// The native core against Debian's Python 3.11 (shared GIL only; strict extensions emulated).
import test from 'ava';
import { registerCoreSuite } from './core-suite.js';
import { PY311 } from './helpers/pythons.js';

registerCoreSuite(test, { python: PY311, label: '3.11' });
