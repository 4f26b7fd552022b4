/** A response target that keeps the response in memory: for in-process requests (no socket). */
import type { ResponseSink, ResponseTarget } from './response-writer.js';
import fs from 'node:fs';

export interface CollectedResponse {
  status: number;
  reason: string;
  headers: [string, string][];
  body: Buffer;
  /** The response was cut short (an error after the head was sent). */
  aborted: boolean;
}

export class CollectingWriter implements ResponseTarget {
  sink: ResponseSink = { ack: () => {}, sendfileDone: () => {} };
  headSent = false;
  finished = false;
  status = 0;
  bytesOut = 0;
  private reason = '';
  private headers: [string, string][] = [];
  private readonly chunks: Buffer[] = [];
  private aborted = false;
  readonly done: Promise<CollectedResponse>;
  private resolve!: (r: CollectedResponse) => void;

  constructor() {
    this.done = new Promise((r) => (this.resolve = r));
  }

  head(status: number, reason: string | undefined, headers: string | undefined): void {
    this.headSent = true;
    this.status = status;
    this.reason = reason ?? '';
    const list = headers ? headers.split('\n') : [];
    this.headers = [];
    for (let i = 0; i + 1 < list.length; i += 2) this.headers.push([list[i], list[i + 1]]);
  }

  body(chunk: Buffer | Buffer[], last: boolean): void {
    for (const c of Array.isArray(chunk) ? chunk : [chunk]) this.stream(c);
    this.sink.ack(Array.isArray(chunk) ? chunk.reduce((n, c) => n + c.length, 0) : chunk.length);
    if (last) this.end();
  }

  stream(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.bytesOut += chunk.length;
    return true;
  }

  onceDrain(cb: () => void): void {
    cb();
  }

  sendfile(fd: number, offset: number, length: number): void {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, offset);
    this.stream(buf.subarray(0, n));
    this.sink.sendfileDone();
  }

  end(): void {
    if (this.finished) return;
    this.finished = true;
    this.resolve({ status: this.status, reason: this.reason, headers: this.headers, body: Buffer.concat(this.chunks), aborted: this.aborted });
  }

  abort(): void {
    this.aborted = true;
    this.end();
  }

  fail(status: number, message: string): void {
    if (this.finished) return;
    if (this.headSent) return this.abort();
    this.head(status, message, 'Content-Type\ntext/plain; charset=utf-8');
    this.stream(Buffer.from(message + '\n'));
    this.end();
  }
}
