/**
 * `Define`, `UnDefine`, `<IfDefine>` and `${VAR}` expansion, with Apache 2.4's rules: a one-argument
 * `Define NAME` (or `httpd -D NAME`) only makes `<IfDefine NAME>` true; `Define NAME value` also
 * gives `${NAME}` a value; `${NAME}` looks up Defines first, then the environment.
 */
import { ConfigError } from '../errors.js';
import type { Where } from './lexer.js';

/** The Define table of one configuration read. */
export class Variables {
  private readonly names = new Set<string>();
  private readonly values = new Map<string, string>();

  /**
   * @param env the environment `${VAR}` falls back to.
   * @param defines command-line style defines: `NAME` (like `httpd -D NAME`) or `NAME=value`
   *   (a pyhost extension, like `Define NAME value`).
   */
  constructor(private readonly env: Readonly<Record<string, string | undefined>>, defines: readonly string[] = []) {
    for (const d of defines) {
      const eq = d.indexOf('=');
      if (eq < 0) this.names.add(d);
      else this.set(d.slice(0, eq), d.slice(eq + 1));
    }
  }

  /** `Define NAME [value]`. */
  define(name: string, value: string | undefined, where: Where): void {
    if (name.includes(':')) throw new ConfigError(where.file, where.line, `Variable name must not contain ':' (Define ${name})`);
    if (value === undefined) this.names.add(name);
    else this.set(name, value);
  }

  /** `UnDefine NAME`. */
  undefine(name: string): void {
    this.names.delete(name);
    this.values.delete(name);
  }

  /** Whether `<IfDefine NAME>` is true. */
  isDefined(name: string): boolean {
    return this.names.has(name);
  }

  /**
   * Replaces every `${NAME}` in `text`. A name containing `:` (mod_rewrite's `${map:key}`) is left
   * alone, as Apache does; a `$` not followed by `{...}` is ordinary text.
   *
   * @throws ConfigError when NAME is neither Defined with a value nor in the environment
   *   (Apache only warns and keeps the text; pyhost refuses to guess).
   */
  expand(text: string, where: Where): string {
    if (!text.includes('${')) return text;
    let out = '';
    let i = 0;
    for (;;) {
      const start = text.indexOf('${', i);
      const end = start < 0 ? -1 : text.indexOf('}', start + 2);
      if (start < 0 || end < 0) return out + text.slice(i);
      out += text.slice(i, start);
      const name = text.slice(start + 2, end);
      const value = this.values.get(name) ?? this.env[name];
      if (value !== undefined) out += value;
      else if (name.includes(':')) out += text.slice(start, end + 1);
      else {
        const hint = this.names.has(name) ? ` (Define ${name} has no value)` : '';
        throw new ConfigError(where.file, where.line,
          `Config variable \${${name}} is not defined${hint}: expected 'Define ${name} value' before this line or an environment variable ${name}`);
      }
      i = end + 1;
    }
  }

  private set(name: string, value: string): void {
    this.names.add(name);
    this.values.set(name, value);
  }
}
