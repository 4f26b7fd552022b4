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
  libpython: string;
  libname: string;
  include: string;
  hasHeaders: boolean;
  extSuffix: string;
}
export interface BuildManifest extends PythonInfo {
  tag: string;
  dir: string;
}
export function describePython(python: string): PythonInfo;
export function checkBuildable(info: PythonInfo): string | undefined;
export function buildTag(info: PythonInfo): string;
export function platformDir(): string;
export function listBuilds(root: string): BuildManifest[];
export function defaultBuild(root: string): { tag: string; python: string; version: string } | undefined;
