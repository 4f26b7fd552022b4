/**
 * Errors thrown by pyhost. Every error is a {@link PyhostError} with a stable `code`; Python
 * exceptions arrive as {@link PythonError} with the exception's type, message and traceback.
 */

/** Base class of every error pyhost throws. */
export class PyhostError extends Error {
  /** A stable machine-readable code, e.g. `ERR_PYTHON_VERSION_MISMATCH`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PyhostError';
    this.code = code;
  }
}

/** An exception raised by Python code. */
export class PythonError extends PyhostError {
  /** Qualified Python type name, e.g. `ZeroDivisionError` or `json.decoder.JSONDecodeError`. */
  readonly type: string;
  /** The formatted Python traceback (`traceback.format_exception`). */
  readonly traceback: string;
  /** Set when the exception is an extension module refusing sub-interpreters: its name. */
  readonly refusedModule?: string;
  constructor(type: string, message: string, traceback: string, refusedModule?: string, code = 'ERR_PYTHON_EXCEPTION') {
    super(code, `${type}: ${message}`);
    this.name = 'PythonError';
    this.type = type;
    this.traceback = traceback;
    if (refusedModule) this.refusedModule = refusedModule;
  }
}

/** A configuration file error, naming the file and line. */
export class ConfigError extends PyhostError {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string, code = 'ERR_CONFIG') {
    super(code, `${file}:${line}: ${message}`);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
  }
}

/** The plain error object the native core rejects with. */
export interface NativeErrorShape {
  code: string;
  message: string;
  type?: string;
  traceback?: string;
  refusedModule?: string;
}

/** Turns whatever the native core rejected with into a PyhostError. */
/** A call stopped from outside (its deadline, a cancel) or that would not stop: not Python's error. */
const INTERRUPTED = ['ERR_TIMEOUT', 'ERR_CANCELLED', 'ERR_STUCK'];

export function fromNative(err: unknown): PyhostError {
  if (err instanceof PyhostError) return err;
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return new PyhostError(code ?? 'ERR_INTERNAL', err.message, { cause: err });
  }
  const e = err as NativeErrorShape;
  if (e && typeof e === 'object' && typeof e.code === 'string') {
    if (INTERRUPTED.includes(e.code)) return new PyhostError(e.code, e.message);
    if (e.type && (e.code === 'ERR_PYTHON_EXCEPTION' || e.traceback)) {
      return new PythonError(e.type, e.message, e.traceback ?? '', e.refusedModule, e.code);
    }
    return new PyhostError(e.code, e.message);
  }
  return new PyhostError('ERR_INTERNAL', String(err));
}
