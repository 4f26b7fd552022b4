/** Access log lines in Apache's combined format. */
import type { IncomingMessage } from 'node:http';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** `[10/Oct/2000:13:55:36 -0700]` */
export function clfDate(d: Date): string {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `[${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(a / 60))}${pad(a % 60)}]`;
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return v === undefined ? '-' : String(v).replace(/["\\]/g, (c) => '\\' + c);
}

/** `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"` */
export function combinedLogLine(req: IncomingMessage, remoteAddr: string, status: number, bytes: number, when: Date): string {
  const requestLine = `${req.method} ${(req as { originalUrl?: string }).originalUrl ?? req.url} HTTP/${req.httpVersion}`;
  return `${remoteAddr || '-'} - - ${clfDate(when)} "${requestLine.replace(/["\\]/g, (c) => '\\' + c)}" ${status} ${bytes > 0 ? bytes : '-'} "${header(req, 'referer')}" "${header(req, 'user-agent')}"`;
}
