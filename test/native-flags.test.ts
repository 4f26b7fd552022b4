/**
 * The flag and frame-type enums that both sides of a boundary use, checked against each other:
 * each TypeScript `const enum` has exactly the names and values of its C++ counterpart (a `k`
 * prefix, and a type prefix like `kLink`, dropped).
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './helpers/child.js';

const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');

/** name -> value of the `kName = N` entries in the block of `file` that starts at `marker`. */
function cppValues(file: string, marker: string, prefix = 'k'): Map<string, number> {
  const text = read(file);
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`${file}: no ${JSON.stringify(marker)}`);
  const end = text.slice(at).search(/[};]/);
  const block = text.slice(at, at + end);
  const out = new Map<string, number>();
  for (const m of block.matchAll(new RegExp(`\\b${prefix}(\\w+)\\s*=\\s*(\\d+)`, 'g'))) out.set(m[1], Number(m[2]));
  return out;
}

/** name -> value of `export const enum NAME { ... }` in `file`. */
function tsValues(file: string, name: string): Map<string, number> {
  const text = read(file);
  const m = new RegExp(`export const enum ${name} \\{([^}]*)\\}`).exec(text);
  if (!m) throw new Error(`${file}: no const enum ${name}`);
  const out = new Map<string, number>();
  for (const e of m[1].matchAll(/^\s*(\w+)\s*=\s*(\d+)/gm)) out.set(e[1], Number(e[2]));
  return out;
}

const PAIRS: [string, [string, string, string?], [string, string]][] = [
  ['submitRequest flags', ['csrc/addon/request_flags.h', 'enum Submit'], ['ts/native/types.ts', 'SubmitFlags']],
  ['request dispatch flags', ['csrc/addon/request_flags.h', 'enum Event'], ['ts/native/types.ts', 'EventFlags']],
  ['link dispatch flags', ['csrc/front/daemon_link.h', 'constexpr int kLinkEnd', 'kLink'], ['ts/native/front.ts', 'LinkFlags']],
  ['daemon frame types', ['csrc/wire/protocol.h', 'enum FrameType'], ['ts/daemon/protocol.ts', 'Frame']],
  ['REQUEST flags', ['csrc/wire/protocol.h', '// REQUEST flags'], ['ts/daemon/protocol.ts', 'RequestFlag']],
  ['tenant host frame types', ['csrc/wire/host_protocol.h', 'enum FrameType'], ['ts/harness/host-protocol.ts', 'HostFrame']],
  ['tenant host flags', ['csrc/wire/host_protocol.h', 'enum : uint8_t'], ['ts/harness/host-protocol.ts', 'HostFlag']],
];

for (const [what, [cppFile, marker, prefix], [tsFile, tsName]] of PAIRS) {
  test(`${what}: ${tsFile} ${tsName} matches ${cppFile}`, (t) => {
    const cpp = cppValues(cppFile, marker, prefix);
    const ts = tsValues(tsFile, tsName);
    t.true(cpp.size > 0, `found entries in ${cppFile}`);
    t.deepEqual(Object.fromEntries([...ts].sort()), Object.fromEntries([...cpp].sort()));
  });
}
