/**
 * Streams a Node request body into a backend with backpressure: pauses the request when the
 * backend says so, and resumes when it asks; enforces the request body limit (413) and the body
 * timeout (408: no byte from the client for that long, not counting time the backend made it wait).
 */
import type { IncomingMessage } from 'node:http';

export interface BodyTarget {
  /** Returns false when the source should pause until resume(). */
  push(chunk: Buffer): boolean;
  end(): void;
  /** The body is refused: over the limit (413) or stalled (408). The pump has stopped. */
  refuse(status: 408 | 413, reason: string): void;
}

export interface BodyLimits {
  /** Largest body in bytes (0: no limit). */
  maxBytes: number;
  /** Milliseconds the client may send nothing while the backend waits for more (0: no limit). */
  idleTimeout: number;
}

export class BodyPump {
  private received = 0;
  private stopped = false;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly target: BodyTarget,
    private readonly limits: BodyLimits,
  ) {
    req.on('data', (chunk: Buffer) => this.onData(chunk));
    req.on('end', () => {
      if (this.stopped) return;
      this.clearIdle();
      target.end();
    });
    if (limits.idleTimeout > 0) {
      this.idle = setTimeout(() => this.refuse(408, 'Request Timeout'), limits.idleTimeout);
      this.idle.unref();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.stopped) return;
    this.received += chunk.length;
    if (this.limits.maxBytes > 0 && this.received > this.limits.maxBytes) {
      this.refuse(413, 'Request Entity Too Large');
      return;
    }
    if (this.target.push(chunk)) {
      this.idle?.refresh();
    } else {
      // Waiting for the backend is not the client's stall.
      clearTimeout(this.idle);
      this.req.pause();
    }
  }

  private refuse(status: 408 | 413, reason: string): void {
    if (this.stopped) return;
    this.stop();
    this.target.refuse(status, reason);
  }

  private clearIdle(): void {
    clearTimeout(this.idle);
    this.idle = undefined;
  }

  resume(): void {
    if (this.stopped) return;
    this.idle?.refresh();
    this.req.resume();
  }

  stop(): void {
    this.stopped = true;
    this.clearIdle();
  }
}
