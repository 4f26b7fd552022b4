/**
 * Bytes shared by the bench apps and the bare Node peer. Must match bench/apps/*.py exactly; the
 * suite checks both against each other before measuring (bench/lib/scenarios.ts).
 */
import { createHash } from 'node:crypto';

export const HELLO_BODY = Buffer.from('Hello, World!');

/** `count` lines of "%07d\n" starting at 0: 8 bytes a line, every offset distinct. */
export function numberedLines(count: number): Buffer {
  const buf = Buffer.alloc(count * 8);
  for (let i = 0; i < count; i++) buf.write(String(i).padStart(7, '0') + '\n', i * 8, 'latin1');
  return buf;
}

/** bench/apps/bytes64k.py: 65536 bytes. */
export const BYTES64K_BODY = numberedLines(8192);

/** The 1 MiB request body of the upload scenario. */
export const UPLOAD_REQUEST = numberedLines(131072);

/** bench/apps/upload.py's answer for a body: "<length> <sha256 hex>\n". */
export function uploadAnswer(length: number, sha256hex: string): Buffer {
  return Buffer.from(`${length} ${sha256hex}\n`);
}

export function sha256hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
