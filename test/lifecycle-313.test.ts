// Runtime lifecycle (close, stuck workers, restart, pythonHome, home, optimize) on 3.13.
import test from 'ava';
import { registerLifecycleSuite } from './lifecycle-suite.js';
import { PY313 } from './helpers/pythons.js';

registerLifecycleSuite(test, { python: PY313, label: '3.13' });
