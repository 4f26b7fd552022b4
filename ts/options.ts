/** Validation of user-supplied options: every mistake is a PyhostError naming the option. */
import { PyhostError } from './errors.js';

export function invalid(what: string, message: string): PyhostError {
  return new PyhostError('ERR_INVALID_OPTION', `${what}: ${message}`);
}

/** Throws on keys of `opts` that are not in `known` (a typo must not pass silently). */
export function checkKnownKeys(what: string, opts: object | undefined, known: readonly string[]): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object') throw invalid(what, `expected an options object, got ${opts === null ? 'null' : typeof opts}`);
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) throw invalid(what, `unknown option '${key}' (known: ${known.join(', ')})`);
  }
}

export function intOption(what: string, name: string, value: unknown, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(what, `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function enumOption<T extends string>(what: string, name: string, value: unknown, allowed: readonly T[], def: T): T {
  if (value === undefined) return def;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(what, `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function stringOption(what: string, name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw invalid(what, `${name} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

export function stringArrayOption(what: string, name: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw invalid(what, `${name} must be an array of non-empty strings`);
  }
  return value as string[];
}
