// Host functions against Python 3.13.
import test from 'ava';
import { registerHostFunctionsSuite } from './host-functions-suite.js';
import { PY313 } from './helpers/pythons.js';

registerHostFunctionsSuite(test, PY313, '3.13');
