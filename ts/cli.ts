/**
 * The `pyhost` command: `start-server` (serve a WSGI application, like mod_wsgi-express),
 * `check-config` (validate a mod_wsgi configuration), `bench` (compare group kinds on an app),
 * `doctor` (check that an app would run, and say how to fix what would stop it).
 */
import { PyhostError } from './errors.js';
import { CliError } from './cli/args.js';
import { startServer } from './cli/start-server.js';

const USAGE = `usage: pyhost <command> [options]

commands:
  start-server [SCRIPT]     serve a WSGI application (see pyhost start-server --help)
  check-config FILE         validate a mod_wsgi configuration file and print the resolved plan
  bench APP                 compare application group kinds on your application
  doctor [SCRIPT]           check the Python, the build and the app; explain each problem and its fix
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start-server':
        await startServer(rest);
        return -1; // keeps running
      case 'check-config': {
        const { checkConfig } = await import('./cli/check-config.js');
        return await checkConfig(rest);
      }
      case 'doctor': {
        const { doctorCommand } = await import('./cli/doctor.js');
        return await doctorCommand(rest);
      }
      case 'bench': {
        const { benchCommand } = await import('./cli/bench.js');
        return await benchCommand(rest);
      }
      case '--version':
      case 'version': {
        const { createRequire } = await import('node:module');
        process.stdout.write(`pyhost ${createRequire(import.meta.url)('../package.json').version}\n`);
        return 0;
      }
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`pyhost: unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`pyhost ${command}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof PyhostError) {
      process.stderr.write(`pyhost ${command}: ${err.message}${'traceback' in err && err.traceback ? '\n' + err.traceback : ''}\n`);
      return 1;
    }
    throw err;
  }
}

const isEntry = process.argv[1] && (process.argv[1].endsWith('/cli.js') || process.argv[1].endsWith('/cli.ts'));
if (isEntry) {
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exit(code);
  });
}
