// Called by binding.gyp (`<!@(node scripts/gyp_python.cjs FIELD)`): prints the compiler and
// linker settings for the Python that scripts/build.js selected (PYHOST_PYTHON_INFO, a JSON file).
'use strict';
const fs = require('fs');

const infoFile = process.env.PYHOST_PYTHON_INFO;
if (!infoFile) {
  process.stderr.write('pyhost: build the addon with `npm run build` (scripts/build.js), not node-gyp directly\n');
  process.exit(1);
}
const info = JSON.parse(fs.readFileSync(infoFile, 'utf8'));
const field = process.argv[2];
const out = {
  include: [info.include],
  libs: [`-L${info.libdir}`, `-l${info.libname}`, `-Wl,-rpath,${info.libdir}`],
  defines: [`PYHOST_LIBPYTHON="${info.libpython}"`],
}[field];
if (!out) {
  process.stderr.write(`pyhost: unknown gyp field ${field}\n`);
  process.exit(1);
}
process.stdout.write(out.join(' '));
