// Where native builds live and which one fits. Shared by the install and build scripts and by
// the loader (ts/native/loader.ts). Plain JavaScript: it runs at `npm install`.
//
// prebuilds/<platform>-<arch>/ holds, side by side:
//   pyhost.<python tag>.napi.<libc>.node     the addon for one CPython minor (cp311, cp313, cp313t)
//   pyhost-daemon.<python tag>.<libc>        the daemon program for that minor
//   pyhost.<python tag>.napi.<libc>.json     its manifest: built with which Python, from which sources
//   pyhost_front.napi.<libc>.node            the daemon front (links no Python), and its .json
//   pyhost_preload.napi.<libc>.node          loads libpython RTLD_GLOBAL (links no Python), and its .json
//   default.json                             the Python `npm install` chose (never packed)
// A prebuild (`npm run prebuild`, prebuildify) and a build compiled here (scripts/build.js) are
// the same files. node-gyp-build decides which file fits this process (platform, arch, libc,
// runtime, N-API), but it ignores tags it does not know and picks one addon per directory, so
// the addon's name and Python tag narrow the candidates first and its rules choose among them.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build');
const { EMBEDDED: EMBEDDED_PYTHON } = createRequire(import.meta.url)('./embed-python.cjs');

/** Parts of a build (binding.gyp builds one per run) and the file names of their addons. */
export const PARTS = {
  python: {
    base: (tag) => `pyhost.${tag}`,
    sources: ['csrc/python', 'csrc/wsgi', 'csrc/addon', 'csrc/napi', 'csrc/daemon', 'csrc/wire', 'csrc/http', 'scripts/embed-python.cjs', ...EMBEDDED_PYTHON],
  },
  front: { base: () => 'pyhost_front', sources: ['csrc/front', 'csrc/napi', 'csrc/wire', 'csrc/http/listen_socket.cc', 'csrc/http/listen_socket.h', 'csrc/http/allocator_tuning.cc', 'csrc/http/allocator_tuning.h'] },
  preload: { base: () => 'pyhost_preload', sources: ['csrc/preload'] },
};
const SHARED_SOURCES = ['binding.gyp', 'scripts/gyp_python.cjs', 'scripts/gyp_llhttp.cjs'];

/** The libc tag, by node-gyp-build's rule (it does not export it). */
export function libcTag() {
  return process.env.LIBC || (process.platform === 'linux' && fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
}

/** prebuilds/<platform>-<arch>/ of `root` (the directory new builds are filed in). */
export function storeDir(root) {
  return path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
}

/** The files a new build of `part` (for Python tag `tag`) is filed as, in storeDir. */
export function buildFileNames(part, tag) {
  const addon = `${PARTS[part].base(tag)}.napi.${libcTag()}.node`;
  return {
    addon,
    manifest: addon.replace(/\.node$/, '.json'),
    daemon: part === 'python' ? `pyhost-daemon.${tag}.${libcTag()}` : undefined,
  };
}

/** The prebuilds/<platform>-<arch> directory that fits this process, by node-gyp-build's rules. */
function fittingDir(root) {
  const dir = path.join(root, 'prebuilds');
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  const tuple = names.map(nodeGypBuild.parseTuple).filter(nodeGypBuild.matchTuple(process.platform, process.arch)).sort(nodeGypBuild.compareTuples)[0];
  return tuple ? path.join(dir, tuple.name) : undefined;
}

/**
 * The build of `part` (for Python tag `tag`) that fits this process, or undefined: the
 * manifest's contents, the addon, manifest and (python part) daemon as absolute paths, and as
 * `executable` and `version` the Python it was compiled with.
 */
export function findBuild(root, part, tag) {
  const dir = fittingDir(root);
  if (!dir) return undefined;
  const prefix = PARTS[part].base(tag) + '.';
  const candidates = fs.readdirSync(dir).filter((f) => f.startsWith(prefix)).map(nodeGypBuild.parseTags);
  const winner = candidates.filter(nodeGypBuild.matchTags('node', process.versions.modules)).sort(nodeGypBuild.compareTags('node'))[0];
  if (!winner) return undefined;
  const manifestFile = path.join(dir, winner.file.replace(/\.node$/, '.json'));
  const manifest = fs.existsSync(manifestFile) ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')) : {};
  return {
    ...manifest,
    tag,
    // A build with no manifest (copied in by hand) still names the minor its tag says.
    minor: manifest.minor ?? (tag ? tag.replace(/^cp(\d)(\d+).*$/, '$1.$2') : undefined),
    executable: manifest.builtWith?.executable,
    version: manifest.builtWith?.version ?? (tag ? 'unknown' : undefined),
    addon: path.join(dir, winner.file),
    daemon: manifest.daemon ? path.join(dir, manifest.daemon) : undefined,
    manifestFile,
  };
}

/** Every Python build here that fits this process, one per Python tag. */
export function listBuilds(root) {
  const dir = fittingDir(root);
  if (!dir) return [];
  const tags = new Set();
  for (const f of fs.readdirSync(dir)) {
    const m = /^pyhost\.(cp\d+[a-z]*)\..*\.node$/.exec(f);
    if (m) tags.add(m[1]);
  }
  return [...tags].sort().map((tag) => findBuild(root, 'python', tag)).filter(Boolean);
}

/** A hash of the sources `part` is compiled from, to tell a build made from other sources. */
export function sourcesHash(root, part) {
  const hash = crypto.createHash('sha256');
  const files = [];
  const walk = (rel) => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    if (fs.statSync(abs).isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) walk(path.join(rel, name));
    } else files.push(rel);
  };
  for (const rel of [...SHARED_SOURCES, ...PARTS[part].sources]) walk(rel);
  for (const rel of files) hash.update(rel).update('\0').update(fs.readFileSync(path.join(root, rel))).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** Whether a build of `part` for `tag` exists and was made from the sources here. */
export function isCurrent(root, part, tag) {
  const build = findBuild(root, part, tag);
  return Boolean(build && build.sources === sourcesHash(root, part) && (part !== 'python' || (build.daemon && fs.existsSync(build.daemon))));
}

const DEFAULT_FILE = 'default.json';

/** The Python `npm install` chose ({ python, version, tag }), if any. */
export function readDefault(root) {
  const file = path.join(storeDir(root), DEFAULT_FILE);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
}

export function writeDefault(root, info, tag) {
  fs.mkdirSync(storeDir(root), { recursive: true });
  const record = { python: info.executable, version: info.version, tag };
  fs.writeFileSync(path.join(storeDir(root), DEFAULT_FILE), JSON.stringify(record, null, 2) + '\n');
}

// Copy then rename: a running process keeps the old file (overwriting a mapped file crashes it).
function install(from, to) {
  fs.copyFileSync(from, to + '.tmp');
  fs.renameSync(to + '.tmp', to);
}

/**
 * Files a finished build of `part` in storeDir and writes its manifest. `addon` and, for the
 * python part, `daemon` are where the compiler left them (prebuildify moves the addon into
 * place itself); `python` is the PythonInfo it was compiled against.
 */
export function fileBuild(root, { part, tag, python, builtBy, addon, daemon }) {
  const names = buildFileNames(part, tag);
  const dir = storeDir(root);
  fs.mkdirSync(dir, { recursive: true });
  if (path.resolve(addon) !== path.join(dir, names.addon)) install(addon, path.join(dir, names.addon));
  if (names.daemon) install(daemon, path.join(dir, names.daemon));
  const manifest = {
    part,
    tag: part === 'python' ? tag : undefined,
    minor: python ? python.version.split('.').slice(0, 2).join('.') : undefined,
    libc: libcTag(),
    addon: names.addon,
    daemon: names.daemon,
    builtWith: python ? { executable: python.executable, version: python.version, libpython: python.libpython } : undefined,
    builtBy,
    sources: sourcesHash(root, part),
    package: JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version,
  };
  const file = path.join(dir, names.manifest);
  fs.writeFileSync(file + '.tmp', JSON.stringify(manifest, null, 2) + '\n');
  fs.renameSync(file + '.tmp', file);
  return findBuild(root, part, tag);
}
