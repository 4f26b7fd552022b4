// Called by binding.gyp (`<!@(node scripts/gyp_llhttp.cjs FIELD)`): where llhttp's C sources and
// header are (the HTTP/1.1 parser of the native front, the one Node uses; csrc/http/llhttp_*.c
// include its sources, as gyp compiles only files under this tree). Debian's node-llhttp
// ships them in /usr/share/llhttp and /usr/share/include/llhttp; $PYHOST_LLHTTP names another
// directory holding llhttp.h, api.c, http.c and llhttp.c.
'use strict';
const fs = require('fs');
const path = require('path');

const field = process.argv[2];
const dirs = process.env.PYHOST_LLHTTP
  ? { include: process.env.PYHOST_LLHTTP, sources: process.env.PYHOST_LLHTTP }
  : { include: '/usr/share/include/llhttp', sources: '/usr/share/llhttp' };
const sources = ['api.c', 'http.c', 'llhttp.c'].map((f) => path.join(dirs.sources, f));
const missing = [path.join(dirs.include, 'llhttp.h'), ...sources].filter((f) => !fs.existsSync(f));
if (missing.length) {
  process.stderr.write(
    `pyhost: llhttp's sources are missing (${missing.join(', ')}): install them with ` +
      '`apt-get install node-llhttp`, or point $PYHOST_LLHTTP at a directory with llhttp.h, api.c, http.c and llhttp.c\n',
  );
  process.exit(1);
}
if (field === 'include') process.stdout.write([dirs.include, dirs.sources].join(' '));
else {
  process.stderr.write(`pyhost: unknown gyp field ${field}\n`);
  process.exit(1);
}
