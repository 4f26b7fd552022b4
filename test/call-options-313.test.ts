// Cancellable and bounded calls against Python 3.13.
import test from 'ava';
import { registerCallOptionsSuite } from './call-options-suite.js';
import { PY313 } from './helpers/pythons.js';

registerCallOptionsSuite(test, PY313, '3.13');
