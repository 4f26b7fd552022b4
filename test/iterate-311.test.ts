// Generators as async iterators against Python 3.11.
import test from 'ava';
import { registerIterateSuite } from './iterate-suite.js';
import { PY311 } from './helpers/pythons.js';

registerIterateSuite(test, PY311, '3.11');
