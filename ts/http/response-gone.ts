/**
 * When a response is over for good: it closed, or the connection it would be sent on closed.
 *
 * Node emits 'close' only on the response its socket is writing. Responses queued behind it
 * (pipelined requests) are never told that the socket ended (Node's `abortIncoming` destroys the
 * queued requests but leaves their responses waiting for a socket that will not come), so a
 * server that counts or cancels on 'close' alone would keep them in flight forever.
 */
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';

/** Per socket: the callbacks of its responses still waiting. One 'close' listener per socket. */
const waiting = new WeakMap<Socket, Set<() => void>>();

function onSocketClose(this: Socket): void {
  const set = waiting.get(this);
  if (!set) return;
  waiting.delete(this);
  for (const fire of set) fire();
}

/** Calls `cb` once, when `res` closes or its connection closes, whichever comes first. */
export function onResponseGone(res: ServerResponse, cb: () => void): void {
  const socket = res.req.socket;
  let set: Set<() => void> | undefined;
  let fired = false;
  const fire = (): void => {
    if (fired) return;
    fired = true;
    set?.delete(fire);
    cb();
  };
  res.once('close', fire);
  if (socket.destroyed) {
    // Already gone: a response queued behind a dead one can never be sent.
    queueMicrotask(fire);
    return;
  }
  set = waiting.get(socket);
  if (!set) {
    set = new Set();
    waiting.set(socket, set);
    socket.once('close', onSocketClose);
  }
  set.add(fire);
}
