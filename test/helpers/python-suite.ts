/**
 * What a suite registered once per Python (foo-311/313.test.ts) shares: an Engine started before
 * its tests and closed after, the group kinds that Python has (own GIL on 3.12+), titles tagged
 * with the version, and a way to catch a rejection.
 */
import type { TestFn } from 'ava';
import { Engine, type GroupOptions } from '../../ts/index.js';
import { pythonFacts, skipUnlessPython } from './pythons.js';

export interface PythonSuite {
  /** Started by test.before. */
  engine: Engine;
  title(s: string): string;
  /** %{GLOBAL}, `<prefix>-shared`, and `<prefix>-own` where the Python has per-interpreter GILs. */
  groupKinds(prefix: string): [string, GroupOptions][];
}

/** Undefined (and one skipped test registered) when the Python is missing. */
export function pythonSuite(test: TestFn, python: string, label: string, what: string): PythonSuite | undefined {
  if (skipUnlessPython(test, python, `${what} ${label}`)) return undefined;
  const [major, minor] = pythonFacts(python).versionInfo;
  const suite: PythonSuite = {
    engine: undefined as unknown as Engine,
    title: (s) => `[${label}] ${s}`,
    groupKinds: (prefix) => {
      const kinds: [string, GroupOptions][] = [['%{GLOBAL}', {}], [`${prefix}-shared`, {}]];
      if (major > 3 || minor >= 12) kinds.push([`${prefix}-own`, { gil: 'own' }]);
      return kinds;
    },
  };
  test.before(async () => {
    suite.engine = await Engine.start({ python, logger: () => {} });
  });
  test.after.always(async () => {
    await suite.engine?.close();
  });
  return suite;
}

/** The error a promise rejects with; fails if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; type?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string; type?: string };
  }
  throw new Error('the call resolved');
}
