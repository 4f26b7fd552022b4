// Host functions against Python 3.11.
import test from 'ava';
import { registerHostFunctionsSuite } from './host-functions-suite.js';
import { PY311 } from './helpers/pythons.js';

registerHostFunctionsSuite(test, PY311, '3.11');
