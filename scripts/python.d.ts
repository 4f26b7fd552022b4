export interface PythonInfo {
  requested: string;
  executable: string;
  version: string;
  hexversion: number;
  abiflags: string;
  freeThreaded: boolean;
  prefix: string;
  basePrefix: string;
  inVenv: boolean;
  shared: boolean;
  libdir: string;
  ldlibrary: string;
  /** The real path of the shared libpython ('' when the Python has none). */
  libpython: string;
  /** The directory and file name (soname) the dynamic loader finds libpython by. */
  libpythonDir: string;
  libpythonName: string;
  libname: string;
  include: string;
  hasHeaders: boolean;
  extSuffix: string;
}
export { listBuilds } from './builds.js';
export function describePython(python: string): PythonInfo;
export interface Problem {
  kind: 'version' | 'libpython' | 'headers';
  problem: string;
  fix: string;
}
export function embeddableProblem(info: PythonInfo): Problem | undefined;
export function buildableProblem(info: PythonInfo): Problem | undefined;
export function checkEmbeddable(info: PythonInfo): string | undefined;
export function checkBuildable(info: PythonInfo): string | undefined;
export function debianDevPackage(info: PythonInfo): string;
export function minorOf(version: string): string;
export function pythonTag(info: PythonInfo): string;
export function platformDir(): string;
