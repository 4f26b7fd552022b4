// Called by binding.gyp (`<!@(node scripts/gyp_python.cjs FIELD)`): prints which part to build
// (PYHOST_BUILD_PART) and, for the python part, the compiler and linker settings of the Python
// that scripts/build.js or scripts/prebuild.js selected (PYHOST_PYTHON_INFO, a JSON file).
'use strict';
const fs = require('fs');

const PARTS = ['python', 'front', 'preload'];
const part = process.env.PYHOST_BUILD_PART;
if (!PARTS.includes(part)) {
  process.stderr.write('pyhost: build the addon with `node scripts/build.js` or `npm run prebuild`, not node-gyp directly\n');
  process.exit(1);
}
const field = process.argv[2];
if (field === 'part') {
  process.stdout.write(part);
  process.exit(0);
}
if (!['include', 'libs'].includes(field)) {
  process.stderr.write(`pyhost: unknown gyp field ${field}\n`);
  process.exit(1);
}
if (part !== 'python') process.exit(0);
const infoFile = process.env.PYHOST_PYTHON_INFO;
if (!infoFile) {
  process.stderr.write('pyhost: the python part needs PYHOST_PYTHON_INFO (set by scripts/build.js)\n');
  process.exit(1);
}
const info = JSON.parse(fs.readFileSync(infoFile, 'utf8'));
// No -rpath: a build must not remember where the Python it was compiled with lives.
const out = field === 'include' ? [info.include] : [`-L${info.libpythonDir}`, `-l:${info.libpythonName}`];
process.stdout.write(out.join(' '));
