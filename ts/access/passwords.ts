/**
 * Checks a password against one htpasswd entry, as APR's `apr_password_validate` does on Linux:
 * `$2y$`/`$2a$`/`$2b$` bcrypt (bcryptjs, run asynchronously so the event loop keeps turning),
 * `$apr1$` MD5 (Apache's), `{SHA}` SHA-1, and what glibc's crypt() reads: `$1$` MD5-crypt and
 * 13-character DES crypt. Other crypt() formats (`$5$`, `$6$`, `$y$`) are not implemented: such
 * an entry never matches (fail closed), and {@link hashFormat} lets the loader warn about it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { desCrypt } from './des-crypt.js';
import { md5Crypt } from './md5-crypt.js';

/** How an entry is hashed; `unsupported` ones never match. */
export type HashFormat = 'bcrypt' | 'apr1' | 'md5-crypt' | 'sha1' | 'des' | 'unsupported';

export function hashFormat(hash: string): HashFormat {
  if (/^\$2[aby]\$/.test(hash)) return 'bcrypt';
  if (hash.startsWith('$apr1$')) return 'apr1';
  if (hash.startsWith('$1$')) return 'md5-crypt';
  if (hash.startsWith('{SHA}')) return 'sha1';
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return 'des';
  return 'unsupported';
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Whether `password` (the bytes the client sent) matches `hash`. */
export async function verifyPassword(password: Buffer, hash: string): Promise<boolean> {
  switch (hashFormat(hash)) {
    case 'bcrypt': {
      // bcryptjs hashes a string's UTF-8 bytes: give it the string those bytes spell. Bytes that
      // are not UTF-8 cannot be passed (such a password is refused: fail closed).
      let text: string;
      try {
        text = UTF8.decode(password);
      } catch {
        return false;
      }
      // Loaded on first use: loading modules nobody calls costs every request (see ts/engine.ts).
      const bcrypt = (await import('bcryptjs')).default;
      return bcrypt.compare(text, hash).catch(() => false);
    }
    case 'apr1':
    case 'md5-crypt': {
      const magic = hash.startsWith('$apr1$') ? '$apr1$' : '$1$';
      const salt = hash.slice(magic.length).split('$')[0]!;
      return same(md5Crypt(password, magic, salt), hash);
    }
    case 'sha1':
      return same(`{SHA}${createHash('sha1').update(password).digest('base64')}`, hash);
    case 'des':
      return same(desCrypt(password, hash.slice(0, 2)), hash);
    default:
      return false;
  }
}
