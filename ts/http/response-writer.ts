/**
 * Writes a WSGI response to a Node `ServerResponse` from the events a backend (the embedded core
 * or a daemon process) produces: head, body chunks, a file range, end or abort. Reports flushed
 * bytes back so the producer never runs more than a window ahead of a slow client.
 */
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';

/** Acknowledge at least this many flushed bytes at once (the producer's window is larger). */
const ACK_BATCH = 128 * 1024;

export interface ResponseSink {
  /** `bytes` were handed to the socket: the producer may send more. */
  ack(bytes: number): void;
  /** The file range has been read and sent: the producer may close the file. */
  sendfileDone(): void;
}

/** Where a backend's response events go: a Node response, or memory (in-process requests). */
export interface ResponseTarget {
  sink: ResponseSink;
  headSent: boolean;
  finished: boolean;
  status: number;
  bytesOut: number;
  head(status: number, reason: string | undefined, headers: string | undefined): void;
  body(chunk: Buffer | Buffer[], last: boolean): void;
  /** Writes body bytes as they stream in; false when the caller should wait for onceDrain. */
  stream(chunk: Buffer): boolean;
  onceDrain(cb: () => void): void;
  sendfile(fd: number, offset: number, length: number): void;
  end(): void;
  abort(): void;
  fail(status: number, message: string, extraHeaders?: Record<string, string>): void;
}

export class ResponseWriter implements ResponseTarget {
  headSent = false;
  finished = false;
  status = 0;
  bytesOut = 0;
  private unacked = 0;
  private waitingDrain = false;

  /** Set by the backend once it knows where acknowledgements go. */
  sink: ResponseSink = { ack: () => {}, sendfileDone: () => {} };

  constructor(readonly res: ServerResponse) {}

  /** `headers` is "name\nvalue\nname\nvalue". */
  head(status: number, reason: string | undefined, headers: string | undefined): void {
    if (this.finished) return;
    this.headSent = true;
    this.status = status;
    const list = headers ? headers.split('\n') : [];
    this.res.writeHead(status, reason, list);
  }

  body(chunk: Buffer | Buffer[], last: boolean): void {
    if (this.finished) return;
    const res = this.res;
    if (Array.isArray(chunk)) {
      for (let i = 0; i < chunk.length; i++) this.body(chunk[i], last && i === chunk.length - 1);
      return;
    }
    this.bytesOut += chunk.length;
    if (last) {
      this.finished = true;
      res.end(chunk);
      return;
    }
    const ok = res.write(chunk);
    this.unacked += chunk.length;
    if (!ok) {
      if (!this.waitingDrain) {
        this.waitingDrain = true;
        res.once('drain', () => {
          this.waitingDrain = false;
          this.flushAck();
        });
      }
    } else if (this.unacked >= ACK_BATCH && !this.waitingDrain) {
      this.flushAck();
    }
  }

  stream(chunk: Buffer): boolean {
    if (this.finished) return true;
    this.bytesOut += chunk.length;
    return this.res.write(chunk);
  }

  onceDrain(cb: () => void): void {
    this.res.once('drain', cb);
  }

  private flushAck(): void {
    if (this.unacked > 0) {
      const n = this.unacked;
      this.unacked = 0;
      this.sink.ack(n);
    }
  }

  /** Streams `length` bytes of `fd` from `offset` (the file stays open: the producer closes it). */
  sendfile(fd: number, offset: number, length: number): void {
    if (this.finished || length === 0) {
      this.sink.sendfileDone();
      return;
    }
    const stream = fs.createReadStream('', { fd, start: offset, end: offset + length - 1, autoClose: false, emitClose: false });
    stream.on('data', (chunk) => (this.bytesOut += chunk.length));
    stream.on('error', () => {
      this.sink.sendfileDone();
      this.abort();
    });
    stream.on('end', () => this.sink.sendfileDone());
    stream.pipe(this.res, { end: false });
  }

  /** The response is complete. */
  end(): void {
    if (this.finished) return;
    this.finished = true;
    this.res.end();
  }

  /** Cut the response short: the client sees a truncated response (the connection closes). */
  abort(): void {
    this.finished = true;
    const socket = this.res.socket;
    if (socket) {
      socket.end();
      socket.destroySoon?.();
    } else {
      this.res.destroy();
    }
  }

  /** A whole plain-text error response, if nothing was sent yet; else the connection is cut. */
  fail(status: number, message: string, extraHeaders: Record<string, string> = {}): void {
    if (this.finished) return;
    if (this.headSent || this.res.headersSent) {
      this.abort();
      return;
    }
    const body = message + '\n';
    this.headSent = true;
    this.status = status;
    this.finished = true;
    this.bytesOut += Buffer.byteLength(body);
    this.res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      ...extraHeaders,
    });
    this.res.end(body);
  }
}
