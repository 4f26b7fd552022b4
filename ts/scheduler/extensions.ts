/**
 * What an interpreter accepts of extension modules, decided once: an own GIL implies strict
 * checks (CPython refuses a per-interpreter GIL without check_multi_interp_extensions); a shared
 * GIL is legacy, as mod_wsgi's, unless asked otherwise. The native side takes the answer as given.
 */
export type ExtensionPolicy = 'legacy' | 'strict';

export function extensionsFor(gil: 'shared' | 'own' | 'main', asked: ExtensionPolicy | undefined): ExtensionPolicy {
  if (gil === 'main') return 'legacy';
  if (gil === 'own') return 'strict';
  return asked ?? 'legacy';
}

export function isStrict(gil: 'shared' | 'own' | 'main', asked: ExtensionPolicy | undefined): boolean {
  return extensionsFor(gil, asked) === 'strict';
}
