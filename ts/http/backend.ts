/**
 * What a mount needs from whatever runs the application: the embedded core (this process) or a
 * daemon process group. Both stream the same response events through a ResponseWriter.
 */
import type { IncomingMessage } from 'node:http';
import type { NativeCallLimits } from '../native/types.js';
import type { BodyLimits } from './body-pump.js';
import type { RequestFields } from './request-fields.js';
import type { ResponseTarget } from './response-writer.js';

/** One request handed to a backend. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly writer: ResponseTarget;
  readonly fields: RequestFields;
  readonly scriptName: string;
  readonly pathInfo: string;
  /** mod_wsgi.process_group ('' in embedded mode). */
  readonly processGroup: string;
  /** mod_wsgi.application_group ('' for %{GLOBAL}). */
  readonly applicationGroup: string;
  /** The engine group name (`%{GLOBAL}` for the main interpreter). */
  readonly groupName: string;
  readonly passAuthorization: boolean;
  /** The request body's size limit (413) and idle timeout (408). */
  readonly bodyLimits: BodyLimits;
  /** Called once when the response is over (sent, failed, or cut). */
  onDone(): void;
  /**
   * A hard deadline for the application (in-process requests of harness tenants; the embedded
   * backend only): see NativeCallLimits.
   */
  readonly limits?: NativeCallLimits;
  /** The deadline interrupted the application ('timeout', before onDone), or it would not stop ('stuck'). */
  onInterrupted?(kind: 'timeout' | 'stuck'): void;
}

export interface BackendRequest {
  /** The client went away, or pyhost answered for the application (timeouts). */
  cancel(): void;
  /** The application is running it (it left the queue). */
  running(): boolean;
  /** If the request is still waiting for a worker, withdraw it and return true. */
  withdrawIfQueued(): boolean;
  /**
   * The request overran its timeout: returns the Python stack of the thread running it (for the
   * log) and interrupts that thread, best effort, within a bounded time.
   */
  timedOut(): Promise<string>;
}

export interface Backend {
  submit(ex: Exchange): BackendRequest;
}
