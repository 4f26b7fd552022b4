/**
 * Logging: one line per event, `[pyhost:<level>] [group <name>] message`. Python's stdout and
 * stderr arrive here line by line, tagged with their application group.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** A log line; `group` is the application group (or undefined for engine-wide events). */
export interface LogRecord {
  level: LogLevel;
  group?: string;
  message: string;
}

/** Where log lines go: a function receiving each record. */
export type LogSink = (record: LogRecord) => void;

export function formatLogRecord(r: LogRecord): string {
  return r.group !== undefined
    ? `[pyhost:${r.level}] [group ${r.group}] ${r.message}`
    : `[pyhost:${r.level}] ${r.message}`;
}

/** Writes formatted lines to stderr. */
export const stderrSink: LogSink = (r) => {
  process.stderr.write(formatLogRecord(r) + '\n');
};

export class Logger {
  private readonly min: number;
  constructor(
    private readonly sink: LogSink = stderrSink,
    level: LogLevel = 'info',
  ) {
    this.min = LOG_LEVELS.indexOf(level);
  }
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.min;
  }
  log(level: LogLevel, message: string, group?: string): void {
    if (this.enabled(level)) this.sink({ level, group, message });
  }
  debug(message: string, group?: string): void {
    this.log('debug', message, group);
  }
  info(message: string, group?: string): void {
    this.log('info', message, group);
  }
  warn(message: string, group?: string): void {
    this.log('warn', message, group);
  }
  error(message: string, group?: string): void {
    this.log('error', message, group);
  }
}
