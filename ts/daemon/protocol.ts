/**
 * The front <-> daemon wire protocol (twin of csrc/daemon/protocol.h). Frames over a UNIX socket:
 * an 8-byte header {u8 type, u8 flags, u16 aux, u32 length, little-endian} and the payload.
 * Per request on a connection: front sends REQUEST, BODY*, BODY_END; daemon answers HEAD?,
 * DATA*, END. The front cancels a request by closing the connection.
 */

export const enum Frame {
  Request = 1,
  Body = 2,
  BodyEnd = 3,
  Head = 16,
  Data = 17,
  End = 18,
}

export const enum RequestFlag {
  HasBody = 1,
  PassAuthorization = 2,
  Multiprocess = 4,
  IsModule = 8,
  Reload = 16,
}

export const END_ABORT = 1;
export const HEADER_SIZE = 8;
const MAX_FRAME = 64 * 1024 * 1024;

/** REQUEST payload fields in wire order; `utf8` ones are file paths and names, the rest latin-1. */
export interface RequestFields {
  appTarget: string;
  callable: string;
  method: string;
  scriptName: string;
  pathInfo: string;
  query: string;
  requestUri: string;
  protocol: string;
  scheme: string;
  serverName: string;
  serverPort: string;
  localAddr: string;
  remoteAddr: string;
  remotePort: string;
  headers: string;
  processGroup: string;
  applicationGroup: string;
  groupName: string;
  groupKind: 'main' | 'shared' | 'own';
  groupStrict: '0' | '1';
}

const ORDER: (keyof RequestFields)[] = [
  'appTarget', 'callable', 'method', 'scriptName', 'pathInfo', 'query', 'requestUri', 'protocol', 'scheme',
  'serverName', 'serverPort', 'localAddr', 'remoteAddr', 'remotePort', 'headers', 'processGroup',
  'applicationGroup', 'groupName', 'groupKind', 'groupStrict',
];
const UTF8_FIELDS = new Set<keyof RequestFields>(['appTarget', 'callable', 'groupName']);

export function frameHeader(type: Frame, flags: number, aux: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER_SIZE);
  h[0] = type;
  h[1] = flags;
  h.writeUInt16LE(aux, 2);
  h.writeUInt32LE(length, 4);
  return h;
}

/** REQUEST frame (header included), optionally followed by BODY_END in the same buffer. */
export function encodeRequest(f: RequestFields, flags: number, withBodyEnd: boolean): Buffer {
  let size = 0;
  for (const k of ORDER) size += 4 + (UTF8_FIELDS.has(k) ? Buffer.byteLength(f[k], 'utf8') : f[k].length);
  const buf = Buffer.allocUnsafe(HEADER_SIZE + size + (withBodyEnd ? HEADER_SIZE : 0));
  buf[0] = Frame.Request;
  buf[1] = flags;
  buf.writeUInt16LE(0, 2);
  buf.writeUInt32LE(size, 4);
  let off = HEADER_SIZE;
  for (const k of ORDER) {
    const n = buf.write(f[k], off + 4, UTF8_FIELDS.has(k) ? 'utf8' : 'latin1');
    buf.writeUInt32LE(n, off);
    off += 4 + n;
  }
  if (withBodyEnd) {
    buf[off] = Frame.BodyEnd;
    buf.fill(0, off + 1, off + HEADER_SIZE);
  }
  return buf;
}

export interface DecodedFrame {
  type: number;
  flags: number;
  aux: number;
  payload: Buffer;
}

/** Splits a byte stream into frames. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;

  push(chunk: Buffer): DecodedFrame[] {
    this.chunks.push(chunk);
    this.length += chunk.length;
    const out: DecodedFrame[] = [];
    for (;;) {
      if (this.length < HEADER_SIZE) break;
      const head = this.peek(HEADER_SIZE);
      const len = head.readUInt32LE(4);
      if (len > MAX_FRAME) throw new Error(`daemon protocol error: frame of ${len} bytes`);
      if (this.length < HEADER_SIZE + len) break;
      const all = this.take(HEADER_SIZE + len);
      out.push({ type: all[0], flags: all[1], aux: all.readUInt16LE(2), payload: all.subarray(HEADER_SIZE) });
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    const b = Buffer.concat(this.chunks);
    this.chunks = [b];
    return b;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const b = Buffer.concat(this.chunks);
      out = b.subarray(0, n);
      this.chunks = b.length > n ? [b.subarray(n)] : [];
    }
    this.length -= n;
    return out;
  }
}

/** HEAD payload: u32 len + reason, u32 len + headers ("name\nvalue\n..."), both latin-1. */
export function decodeHead(payload: Buffer): { reason: string; headers: string } {
  const rl = payload.readUInt32LE(0);
  const reason = payload.toString('latin1', 4, 4 + rl);
  const hl = payload.readUInt32LE(4 + rl);
  const headers = payload.toString('latin1', 8 + rl, 8 + rl + hl);
  return { reason, headers };
}
