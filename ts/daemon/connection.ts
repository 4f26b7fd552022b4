/**
 * One connection from the front to a daemon process, carrying one request at a time, and the
 * request (DaemonRequest) while it is on it: body out with backpressure, response frames in.
 */
import net from 'node:net';
import type { BackendRequest, Exchange } from '../http/backend.js';
import { BodyPump } from '../http/body-pump.js';
import { decodeHead, encodeRequest, END_ABORT, Frame, frameHeader, FrameReader, RequestFlag, type RequestFields } from './protocol.js';

/** What the daemon group needs to know about a request's placement. */
export interface RequestPlacement {
  /** The request timed out: dump stacks and restart the process running it. */
  onTimeout(req: DaemonRequest): Promise<string>;
  /** The request is over (any outcome). */
  onFinished(req: DaemonRequest): void;
  /** Leaves the queue (queue timeout); true if it was still queued. */
  withdraw(req: DaemonRequest): boolean;
}

/** A request handed to a daemon group: queued, then sent on a connection. */
export class DaemonRequest implements BackendRequest {
  conn: DaemonConnection | undefined;
  cancelled = false;
  finished = false;
  queuedAt = Date.now();
  /** When it was sent to a daemon process (0 while queued). */
  sentAt = 0;

  constructor(
    readonly ex: Exchange,
    readonly fields: RequestFields,
    readonly flags: number,
    private readonly placement: RequestPlacement,
  ) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    if (this.conn) this.conn.abandon();
    else this.finish();
  }

  withdrawIfQueued(): boolean {
    return this.placement.withdraw(this);
  }

  running(): boolean {
    return this.sentAt !== 0;
  }

  timedOut(): Promise<string> {
    this.cancelled = true;
    return this.placement.onTimeout(this);
  }

  /** @internal */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.placement.onFinished(this);
    this.ex.onDone();
  }
}

export class DaemonConnection {
  private readonly socket: net.Socket;
  private readonly reader = new FrameReader();
  private req: DaemonRequest | undefined;
  private pump: BodyPump | undefined;
  private bodyEndSent = false;
  private connected = false;
  closed = false;

  constructor(
    socketPath: string,
    private readonly onIdle: (c: DaemonConnection) => void,
    private readonly onClosed: (c: DaemonConnection, req: DaemonRequest | undefined, requeue: boolean) => void,
  ) {
    this.socket = net.createConnection(socketPath);
    this.socket.setNoDelay?.(true);
    this.socket.on('connect', () => (this.connected = true));
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => this.onSocketClosed());
  }

  get busy(): boolean {
    return this.req !== undefined;
  }

  /** Sends a request; the connection is busy until its END. */
  send(req: DaemonRequest): void {
    this.req = req;
    req.conn = this;
    req.sentAt = Date.now();
    const ex = req.ex;
    const hasBody = (req.flags & RequestFlag.HasBody) !== 0;
    this.bodyEndSent = !hasBody;
    this.socket.write(encodeRequest(req.fields, req.flags, !hasBody));
    ex.writer.sink = { ack: () => {}, sendfileDone: () => {} };
    if (hasBody) {
      const socket = this.socket;
      this.pump = new BodyPump(
        ex.req,
        {
          push: (chunk) => {
            socket.write(frameHeader(Frame.Body, 0, 0, chunk.length));
            return socket.write(chunk);
          },
          end: () => {
            this.bodyEndSent = true;
            socket.write(frameHeader(Frame.BodyEnd, 0, 0, 0));
          },
          overLimit: () => {
            ex.writer.fail(413, 'Request Entity Too Large');
            this.abandon();
          },
        },
        ex.limitRequestBody,
      );
      socket.on('drain', this.onSocketDrain);
    }
  }

  private onSocketDrain = () => this.pump?.resume();
  private paused = false;
  /** Changes with every request, so a late 'drain' of an earlier response resumes nothing. */
  private pauseToken = 0;
  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  private onData(chunk: Buffer): void {
    let frames;
    try {
      frames = this.reader.push(chunk);
    } catch {
      this.abandon();
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      const req = this.req;
      if (!req) {
        this.abandon(); // a frame with no request: protocol error
        return;
      }
      const w = req.ex.writer;
      const next = frames[i + 1];
      if (f.type === Frame.Data && next?.type === Frame.End && !(next.flags & END_ABORT)) {
        // The last body bytes and the end together: one write to the client (res.end(data)).
        if (!req.cancelled) w.body(f.payload, true);
        i++;
        this.complete();
        continue;
      }
      switch (f.type) {
        case Frame.Head: {
          const { reason, headers } = decodeHead(f.payload);
          if (!req.cancelled) w.head(f.aux, reason, headers);
          break;
        }
        case Frame.Data:
          if (!req.cancelled && !w.finished) {
            // Backpressure: stop reading the daemon while the client is slow.
            if (!w.stream(f.payload) && !this.paused) {
              this.paused = true;
              this.socket.pause();
              const token = this.pauseToken;
              w.onceDrain(() => {
                if (token === this.pauseToken) this.resume();
              });
            }
          }
          break;
        case Frame.End:
          if (!req.cancelled) {
            if (f.flags & END_ABORT) w.abort();
            else w.end();
          }
          this.complete();
          break;
        default:
          this.abandon();
          return;
      }
    }
  }

  private complete(): void {
    const req = this.req!;
    this.req = undefined;
    // The response ended: a drain may never come now, so read on regardless.
    this.pauseToken++;
    this.resume();
    this.pump?.stop();
    this.pump = undefined;
    this.socket.off('drain', this.onSocketDrain);
    req.finish();
    if (!this.bodyEndSent) {
      // The application did not read the whole body: rather than stream the rest to a daemon that
      // would discard it, drop this connection.
      this.close();
      return;
    }
    this.onIdle(this);
  }

  /** Gives up on the current request (client gone, timeout, limit): the connection closes. */
  abandon(): void {
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }

  private onSocketClosed(): void {
    this.closed = true;
    const req = this.req;
    this.req = undefined;
    this.pump?.stop();
    if (req && !req.finished && !this.connected && !req.cancelled && !req.ex.writer.headSent) {
      // The process is gone (its socket refused us) before the request reached it: nothing was
      // sent, so the request can wait for a sibling or the replacement.
      req.conn = undefined;
      req.sentAt = 0;
      this.onClosed(this, req, true);
      return;
    }
    if (req && !req.finished) {
      if (!req.cancelled) {
        // The daemon died mid-request.
        req.ex.writer.fail(502, 'Bad Gateway');
      }
      req.finish();
    }
    this.onClosed(this, req, false);
  }

}
