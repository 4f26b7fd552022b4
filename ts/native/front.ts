/**
 * The front addon (pyhost_front.node): native connections to daemon processes. It links no
 * Python, so a front that runs no Python itself (restrictEmbedded) never maps libpython.
 */
import { requirePythonFreeAddon } from './package-root.js';

/** Flags of the link dispatch (csrc/front/daemon_link.h). */
export const enum LinkFlags {
  End = 1,
  Abort = 2,
  ResumeInput = 4,
  Lost = 32,
  Connected = 64,
}

export type LinkDispatch = (
  id: number,
  status: number,
  reason: string | undefined,
  headers: string | undefined,
  body: Buffer | Buffer[] | undefined,
  flags: number,
) => void;

export interface FrontAddon {
  open(socketPath: string): number;
  /** The REQUEST frame, as a latin-1 string (encodeRequest). */
  send(id: number, frame: string): void;
  push(id: number, chunk: Buffer): boolean;
  end(id: number): void;
  ack(id: number, bytes: number): void;
  close(id: number): void;
  setDispatch(fn: LinkDispatch): void;
}

let front: FrontAddon | undefined;

export function loadFront(): FrontAddon {
  if (front) return front;
  front = requirePythonFreeAddon<FrontAddon>('front');
  return front;
}
