#!/bin/sh
# Rebuilds every Python build this machine has builds for (developer convenience).
set -e
cd "$(dirname "$0")/.."
for f in prebuilds/*/*/python.json; do
  node scripts/build.js --python "$(node -p "require('./$f').executable")" >/dev/null
done
node scripts/build.js >/dev/null
