// Runtime lifecycle (close, stuck workers, restart, pythonHome, home, optimize) on Debian's 3.11.
import test from 'ava';
import { registerLifecycleSuite } from './lifecycle-suite.js';
import { PY311 } from './helpers/pythons.js';

registerLifecycleSuite(test, { python: PY311, label: '3.11' });
