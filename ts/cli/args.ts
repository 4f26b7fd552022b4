/**
 * A small command-line parser: `--name value`, `--name=value`, repeatable options, flags, and
 * positional arguments. Every mistake is a CliError naming the option.
 */

export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export interface OptionSpec {
  /** 'string' | 'int' | 'flag' | 'pair' (two values, e.g. --url-alias URL PATH) */
  type: 'string' | 'int' | 'flag' | 'pair' | 'float';
  repeat?: boolean;
  choices?: readonly string[];
  min?: number;
  max?: number;
  help: string;
  metavar?: string;
}

export type ParsedOptions = Record<string, string | number | boolean | string[] | [string, string][] | number[] | undefined>;

export function parseArgs(argv: string[], specs: Record<string, OptionSpec>): { options: ParsedOptions; positional: string[] } {
  const options: ParsedOptions = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--') || arg === '--') {
      if (arg === '--') {
        positional.push(...argv.slice(i + 1));
        break;
      }
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = specs[name];
    if (!spec) throw new CliError(`unknown option --${name} (see --help)`);
    const take = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new CliError(`--${name} needs a value`);
      return v;
    };
    let value: string | number | boolean | [string, string];
    switch (spec.type) {
      case 'flag':
        if (eq > 0) throw new CliError(`--${name} takes no value`);
        value = true;
        break;
      case 'int':
      case 'float': {
        const raw = take();
        const n = Number(raw);
        if (raw.trim() === '' || !Number.isFinite(n) || (spec.type === 'int' && !Number.isInteger(n))) {
          throw new CliError(`--${name}: expected ${spec.type === 'int' ? 'an integer' : 'a number'}, got '${raw}'`);
        }
        if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
          throw new CliError(`--${name}: ${n} is out of range (${spec.min ?? '-inf'} to ${spec.max ?? 'inf'})`);
        }
        value = n;
        break;
      }
      case 'pair': {
        if (eq > 0) throw new CliError(`--${name} takes two values: --${name} ${spec.metavar ?? 'A B'}`);
        const a = argv[++i];
        const b = argv[++i];
        if (a === undefined || b === undefined) throw new CliError(`--${name} takes two values: --${name} ${spec.metavar ?? 'A B'}`);
        value = [a, b];
        break;
      }
      default: {
        value = take();
        if (spec.choices && !spec.choices.includes(value)) {
          throw new CliError(`--${name}: expected one of ${spec.choices.join(', ')}, got '${value}'`);
        }
      }
    }
    if (spec.repeat) {
      const list = (options[name] as unknown[] | undefined) ?? [];
      list.push(value);
      options[name] = list as ParsedOptions[string];
    } else {
      if (options[name] !== undefined) throw new CliError(`--${name} given twice`);
      options[name] = value as ParsedOptions[string];
    }
  }
  return { options, positional };
}

export function formatHelp(usage: string, specs: Record<string, OptionSpec>): string {
  const lines = [`usage: ${usage}`, '', 'options:'];
  for (const [name, s] of Object.entries(specs)) {
    const meta = s.type === 'flag' ? '' : ` ${s.metavar ?? (s.type === 'int' ? 'N' : 'VALUE')}`;
    lines.push(`  --${name}${meta}`.padEnd(34) + s.help);
  }
  return lines.join('\n');
}
