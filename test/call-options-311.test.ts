// Cancellable and bounded calls against Python 3.11.
import test from 'ava';
import { registerCallOptionsSuite } from './call-options-suite.js';
import { PY311 } from './helpers/pythons.js';

registerCallOptionsSuite(test, PY311, '3.11');
