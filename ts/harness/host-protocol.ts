/**
 * The harness <-> tenant host protocol (twin of csrc/daemon/host_protocol.h, which describes it):
 * frames with an 8-byte header {u8 type, u8 flags, u16 aux, u32 length}; every payload a u32
 * call id, then fields as u32 length + bytes.
 */

export const enum HostFrame {
  Pool = 40,
  Call = 41,
  Request = 42,
  Drop = 43,
  Cancel = 44,
  Result = 50,
  Response = 51,
  Stuck = 52,
}

export const enum HostFlag {
  TimedOut = 1,
  Cancelled = 2,
  Failed = 4,
}

export const HOST_HEADER_SIZE = 8;

/** A frame, fields given as strings (UTF-8) or Buffers (bytes as they are). */
export function encodeHostFrame(type: HostFrame, id: number, fields: (string | Buffer)[]): Buffer {
  const bufs = fields.map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : f));
  let length = 4;
  for (const b of bufs) length += 4 + b.length;
  const out = Buffer.allocUnsafe(HOST_HEADER_SIZE + length);
  out.writeUInt8(type, 0);
  out.writeUInt8(0, 1);
  out.writeUInt16LE(0, 2);
  out.writeUInt32LE(length, 4);
  out.writeUInt32LE(id >>> 0, 8);
  let pos = 12;
  for (const b of bufs) {
    out.writeUInt32LE(b.length, pos);
    b.copy(out, pos + 4);
    pos += 4 + b.length;
  }
  return out;
}

export interface HostMessage {
  type: HostFrame;
  flags: number;
  id: number;
  fields: Buffer[];
}

/** Splits a byte stream into frames. */
export class HostFrameReader {
  private buf: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns the frames now complete. Throws on a malformed frame. */
  push(chunk: Buffer): HostMessage[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: HostMessage[] = [];
    let pos = 0;
    while (this.buf.length - pos >= HOST_HEADER_SIZE) {
      const length = this.buf.readUInt32LE(pos + 4);
      if (this.buf.length - pos - HOST_HEADER_SIZE < length) break;
      const type = this.buf.readUInt8(pos) as HostFrame;
      const flags = this.buf.readUInt8(pos + 1);
      const payload = this.buf.subarray(pos + HOST_HEADER_SIZE, pos + HOST_HEADER_SIZE + length);
      if (payload.length < 4) throw new Error(`tenant host protocol: a frame of type ${type} without a call id`);
      const id = payload.readUInt32LE(0);
      const fields: Buffer[] = [];
      let p = 4;
      while (p < payload.length) {
        if (payload.length - p < 4) throw new Error('tenant host protocol: a truncated field');
        const n = payload.readUInt32LE(p);
        if (payload.length - p - 4 < n) throw new Error('tenant host protocol: a field past the frame');
        fields.push(payload.subarray(p + 4, p + 4 + n));
        p += 4 + n;
      }
      out.push({ type, flags, id, fields });
      pos += HOST_HEADER_SIZE + length;
    }
    this.buf = pos === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
    return out;
  }
}
