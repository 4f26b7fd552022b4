/**
 * `pyhost check-config FILE [-D NAME]...`: validates a mod_wsgi configuration without serving and
 * prints the resolved plan, as `apachectl -S` does. Exit status 1 on any error.
 */
import { ConfigError } from '../errors.js';
import { formatPlan, loadConfig } from '../config/index.js';
import { CliError } from './args.js';

export async function checkConfig(argv: string[]): Promise<number> {
  const defines: string[] = [];
  const files: string[] = [];
  let allowUnenforced = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-D' || a === '--define') {
      const v = argv[++i];
      if (!v) throw new CliError(`${a} needs NAME or NAME=VALUE`);
      defines.push(v);
    } else if (a.startsWith('-D') && a.length > 2) defines.push(a.slice(2));
    else if (a === '--allow-unenforced') allowUnenforced = true;
    else if (a === '--help') {
      process.stdout.write('usage: pyhost check-config FILE [-D NAME[=VALUE]]... [--allow-unenforced]\n');
      return 0;
    } else if (a.startsWith('-')) throw new CliError(`unknown option ${a}`);
    else files.push(a);
  }
  if (files.length !== 1) throw new CliError('expected one configuration FILE');
  try {
    const plan = loadConfig(files[0], { defines });
    process.stdout.write(formatPlan(plan));
    if (plan.unenforced.length && !allowUnenforced) {
      for (const u of plan.unenforced) process.stderr.write(`pyhost check-config: ${u.file}:${u.line}: ${u.directive}: not enforced: ${u.reason}\n`);
      process.stderr.write(`pyhost check-config: refused: ${plan.unenforced.length} access restriction(s) Apache would apply and pyhost would not ` +
        '(start-server --config refuses this file too; --allow-unenforced serves it anyway, logging each)\n');
      return 1;
    }
    process.stdout.write(plan.unenforced.length ? `Syntax OK (${plan.unenforced.length} access restriction(s) NOT ENFORCED: --allow-unenforced)\n` : 'Syntax OK\n');
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pyhost check-config: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
