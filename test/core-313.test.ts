// The native core against Python 3.13 (own-GIL groups, _testsinglephase).
import test from 'ava';
import { registerCoreSuite } from './core-suite.js';
import { PY313 } from './helpers/pythons.js';

registerCoreSuite(test, { python: PY313, label: '3.13' });
