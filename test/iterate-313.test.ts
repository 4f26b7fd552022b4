// Generators as async iterators against Python 3.13.
import test from 'ava';
import { registerIterateSuite } from './iterate-suite.js';
import { PY313 } from './helpers/pythons.js';

registerIterateSuite(test, PY313, '3.13');
