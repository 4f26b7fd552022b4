/**
 * The front <-> daemon wire protocol (twin of csrc/daemon/protocol.h). Frames over a UNIX socket:
 * an 8-byte header {u8 type, u8 flags, u16 aux, u32 length, little-endian} and the payload.
 * Per request on a connection: front sends REQUEST, BODY*, BODY_END; daemon answers HEAD?,
 * DATA*, END. The front cancels a request by closing the connection. The front's native link
 * (csrc/front) writes the body frames and reads the answer; JS encodes the REQUEST frame.
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

export const HEADER_SIZE = 8;

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
