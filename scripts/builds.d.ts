export type BuildPart = 'python' | 'front' | 'preload';
export interface Build {
  part: BuildPart;
  /** The Python tag (cp311, cp313t) of a python-part build. */
  tag: string | undefined;
  /** The CPython minor version it serves (python part). */
  minor?: string;
  libc: string;
  /** Absolute paths. */
  addon: string;
  daemon: string | undefined;
  manifestFile: string;
  /** The Python it was compiled with (python part). */
  builtWith?: { executable: string; version: string; libpython: string };
  executable?: string;
  version?: string;
  builtBy?: 'prebuildify' | 'node-gyp';
  sources?: string;
  package?: string;
}
export const PARTS: Record<BuildPart, { base(tag?: string): string; sources: string[] }>;
export function libcTag(): string;
export function storeDir(root: string): string;
export function buildFileNames(part: BuildPart, tag?: string): { addon: string; manifest: string; daemon: string | undefined };
export function findBuild(root: string, part: BuildPart, tag?: string): Build | undefined;
/** A python-part build: for listings, `version` and `executable` are those of the Python it was compiled with. */
export interface PythonBuild extends Build {
  tag: string;
  minor: string;
  version: string;
  executable: string;
}
export function listBuilds(root: string): PythonBuild[];
export function sourcesHash(root: string, part: BuildPart): string;
export function isCurrent(root: string, part: BuildPart, tag?: string): boolean;
export function readDefault(root: string): { python: string; version: string; tag: string } | undefined;
export function writeDefault(root: string, info: { executable: string; version: string }, tag: string): void;
export function fileBuild(
  root: string,
  build: { part: BuildPart; tag?: string; python?: { executable: string; version: string; libpython: string }; builtBy: string; addon: string; daemon?: string },
): Build | undefined;
