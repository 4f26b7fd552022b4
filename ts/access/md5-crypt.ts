/**
 * MD5-crypt: Apache's `$apr1$` (what `htpasswd -m` writes, and its default) and glibc's `$1$`,
 * the same algorithm with another magic string (Poul-Henning Kamp's, 1000 rounds of MD5).
 */
import { createHash } from 'node:crypto';

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const md5 = (...parts: Buffer[]): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

function to64(v: number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++, v >>= 6) out += ALPHABET[v & 0x3f];
  return out;
}

/** Hashes `password` with `magic` (`$apr1$` or `$1$`) and a salt of up to 8 characters. */
export function md5Crypt(password: Buffer, magic: '$apr1$' | '$1$', salt: string): string {
  const s = Buffer.from(salt.slice(0, 8), 'latin1');
  const m = Buffer.from(magic);
  const alt = md5(password, s, password);
  const parts: Buffer[] = [password, m, s];
  for (let left = password.length; left > 0; left -= 16) parts.push(alt.subarray(0, Math.min(16, left)));
  for (let i = password.length; i; i >>= 1) parts.push(i & 1 ? Buffer.from([0]) : password.subarray(0, 1));
  let final = md5(...parts);
  for (let i = 0; i < 1000; i++) {
    const round: Buffer[] = [i & 1 ? password : final];
    if (i % 3) round.push(s);
    if (i % 7) round.push(password);
    round.push(i & 1 ? final : password);
    final = md5(...round);
  }
  const f = final;
  const text = to64((f[0]! << 16) | (f[6]! << 8) | f[12]!, 4) + to64((f[1]! << 16) | (f[7]! << 8) | f[13]!, 4) +
    to64((f[2]! << 16) | (f[8]! << 8) | f[14]!, 4) + to64((f[3]! << 16) | (f[9]! << 8) | f[15]!, 4) +
    to64((f[4]! << 16) | (f[10]! << 8) | f[5]!, 4) + to64(f[11]!, 2);
  return `${magic}${salt.slice(0, 8)}$${text}`;
}
