/**
 * Streams a Node request body into a backend with backpressure: pauses the request when the
 * backend says so, and resumes when it asks; enforces the request body limit.
 */
import type { IncomingMessage } from 'node:http';

export interface BodyTarget {
  /** Returns false when the source should pause until resume(). */
  push(chunk: Buffer): boolean;
  end(): void;
  /** The body exceeded the limit. */
  overLimit(): void;
}

export class BodyPump {
  private received = 0;
  private stopped = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly target: BodyTarget,
    private readonly limit: number,
  ) {
    req.on('data', (chunk: Buffer) => this.onData(chunk));
    req.on('end', () => {
      if (!this.stopped) target.end();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.stopped) return;
    this.received += chunk.length;
    if (this.limit > 0 && this.received > this.limit) {
      this.stopped = true;
      this.target.overLimit();
      return;
    }
    if (!this.target.push(chunk)) this.req.pause();
  }

  resume(): void {
    if (!this.stopped) this.req.resume();
  }

  stop(): void {
    this.stopped = true;
  }
}
