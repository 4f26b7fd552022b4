/** The package directory (package.json, scripts/, prebuilds/), and its addons that link no Python. */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBuild, type BuildPart } from '../../scripts/builds.js';
import { PyhostError } from '../errors.js';

/** From ts/native or dist/native, two levels up. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Loads the addon of a part that links no Python (front, preload); ERR_NO_BUILD when it is missing. */
export function requirePythonFreeAddon<T>(part: Exclude<BuildPart, 'python'>): T {
  const build = findBuild(packageRoot, part);
  if (!build) {
    throw new PyhostError(
      'ERR_NO_BUILD',
      `pyhost_${part}.node is missing from ${path.join(packageRoot, 'prebuilds')}: reinstall pyhost, or run: node ${path.join(packageRoot, 'scripts', 'build.js')}`,
    );
  }
  return createRequire(import.meta.url)(build.addon) as T;
}
