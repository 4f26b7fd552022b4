/**
 * Connections from the front to daemon processes, and the request (OutboundRequest) while it is on
 * one: body out with backpressure, response in.
 */
import type { BackendRequest, Exchange } from '../http/backend.js';
import { BodyPump } from '../http/body-pump.js';
import { LinkFlags, loadFront, type FrontAddon } from '../native/front.js';
import { encodeRequest, RequestFlag, type WireRequestFields } from './protocol.js';

/** What the daemon group needs to know about a request's placement. */
export interface RequestPlacement {
  /** The request timed out: dump stacks and restart the process running it. */
  onTimeout(req: OutboundRequest): Promise<string>;
  /** The request is over (any outcome). */
  onFinished(req: OutboundRequest): void;
  /** Leaves the queue (queue timeout); true if it was still queued. */
  withdraw(req: OutboundRequest): boolean;
}

/** A request handed to a daemon group: queued, then sent on a connection. */
export class OutboundRequest implements BackendRequest {
  conn: LinkConnection | undefined;
  cancelled = false;
  finished = false;
  queuedAt = Date.now();
  /** When it was sent to a daemon process (0 while queued). */
  sentAt = 0;

  constructor(
    readonly ex: Exchange,
    readonly fields: WireRequestFields,
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

const links = new Map<number, LinkConnection>();
let dispatching = false;

function linkOutput(id: number, status: number, reason: string | undefined, headers: string | undefined, body: Buffer | Buffer[] | undefined, flags: number): void {
  links.get(id)?.onOutput(status, reason, headers, body, flags);
}

/**
 * One connection to a daemon process (a native link: its socket is polled by libuv in C++, no JS stream),
 * carrying one request at a time: body out with backpressure, response events in.
 */
export class LinkConnection {
  private readonly front: FrontAddon;
  private readonly id: number;
  private req: OutboundRequest | undefined;
  private pump: BodyPump | undefined;
  private bodyEndSent = false;
  closed = false;

  constructor(
    socketPath: string,
    private readonly onIdle: (c: LinkConnection) => void,
    private readonly onClosed: (c: LinkConnection, req: OutboundRequest | undefined, requeue: boolean) => void,
  ) {
    this.front = loadFront();
    if (!dispatching) {
      this.front.setDispatch(linkOutput);
      dispatching = true;
    }
    this.id = this.front.open(socketPath);
    links.set(this.id, this);
  }

  get busy(): boolean {
    return this.req !== undefined;
  }

  /** Sends a request; the connection is busy until its END. */
  send(req: OutboundRequest): void {
    this.req = req;
    req.conn = this;
    req.sentAt = Date.now();
    const ex = req.ex;
    const hasBody = (req.flags & RequestFlag.HasBody) !== 0;
    this.bodyEndSent = !hasBody;
    const { front, id } = this;
    front.send(id, encodeRequest(req.fields, req.flags));
    ex.writer.sink = { ack: (n) => front.ack(id, n), sendfileDone: () => {} };
    if (hasBody) {
      this.pump = new BodyPump(
        ex.req,
        {
          push: (chunk) => front.push(id, chunk),
          end: () => {
            this.bodyEndSent = true;
            front.end(id);
          },
          refuse: (status, reason) => {
            ex.writer.fail(status, reason, { Connection: 'close' });
            // Cancelled, not lost: the process is healthy and may take the next request at once.
            req.cancel();
          },
        },
        ex.bodyLimits,
      );
    }
  }

  /** @internal the link's new output (loop thread). */
  onOutput(status: number, reason: string | undefined, headers: string | undefined, body: Buffer | Buffer[] | undefined, flags: number): void {
    if (flags & LinkFlags.ResumeInput) this.pump?.resume();
    const req = this.req;
    if (req && !req.cancelled) {
      const w = req.ex.writer;
      const end = (flags & LinkFlags.End) !== 0;
      const abort = (flags & LinkFlags.Abort) !== 0;
      if (status) w.head(status, reason, headers);
      if (body !== undefined) w.body(body, end && !abort);
      if (end) {
        if (abort) w.abort();
        else w.end();
      }
    }
    if (req && flags & LinkFlags.End) this.complete();
    if (flags & LinkFlags.Lost) this.lost((flags & LinkFlags.Connected) !== 0);
  }

  private complete(): void {
    const req = this.req!;
    this.req = undefined;
    this.pump?.stop();
    this.pump = undefined;
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
    links.delete(this.id);
    this.front.close(this.id);
    this.ended(false);
  }

  /** The daemon closed the connection (it died, or refused us). */
  private lost(connected: boolean): void {
    if (this.closed) return;
    this.closed = true;
    links.delete(this.id);
    this.front.close(this.id);
    this.ended(!connected);
  }

  private ended(neverConnected: boolean): void {
    const req = this.req;
    this.req = undefined;
    this.pump?.stop();
    if (req && !req.finished && neverConnected && !req.cancelled && !req.ex.writer.headSent) {
      // The process is gone (its socket refused us) before the request reached it: nothing was
      // sent, so the request can wait for a sibling or the replacement.
      req.conn = undefined;
      req.sentAt = 0;
      this.onClosed(this, req, true);
      return;
    }
    if (req && !req.finished) {
      if (!req.cancelled) req.ex.writer.fail(502, 'Bad Gateway'); // the daemon died mid-request
      req.finish();
    }
    this.onClosed(this, req, false);
  }
}
