/**
 * Checks the first request line of each connection before Node's HTTP parser sees it, for the two
 * cases where that parser would leave a client waiting in silence:
 *
 * - a request line without an HTTP version (`GET /`, HTTP/0.9): llhttp takes it as the start of an
 *   HTTP/0.9 request and waits for headers that never come; pyhost answers 400 at once;
 * - a connection that sends no complete first line: Node's head timeout only starts once the
 *   parser has the connection, so the guard applies the same timeout (408) until then.
 *
 * Only the first line of a connection is read here: the bytes pass through JavaScript once, then
 * the connection goes to Node's parser, which reads the socket natively from then on. A
 * versionless line later on a keep-alive connection gets Node's 408 at the head timeout.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** Longest first line looked at; past it the parser decides (414/431/400). */
const MAX_LINE = 8192;

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 12\r\nConnection: close\r\n\r\nBad Request\n';
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\nConnection: close\r\n\r\nRequest Timeout\n';

/** The first request line in `head` ('' until a whole line is there); leading empty lines are skipped (RFC 9112 2.2). */
function firstLine(head: Buffer): string | undefined {
  let start = 0;
  while (start < head.length && (head[start] === 0x0d || head[start] === 0x0a)) start++;
  const end = head.indexOf(0x0a, start);
  if (end < 0) return undefined;
  return head.toString('latin1', start, end).replace(/\r$/, '');
}

/** A request line of two words (method and target) and no version. */
function isVersionless(line: string): boolean {
  return /^\S+ \S+$/.test(line);
}

/**
 * Puts the guard in front of `server`'s connection handling. `headTimeoutMs` (0: none) bounds the
 * wait for the first line.
 */
export function guardRequestLines(server: Server, headTimeoutMs: number): void {
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const handOver = (socket: Socket): void => {
    for (const h of handlers) h.call(server, socket);
  };
  server.on('connection', (socket: Socket) => {
    let head: Buffer | undefined;
    let timer: NodeJS.Timeout | undefined;
    const refuse = (response: string): void => {
      cleanup();
      socket.on('error', () => {});
      socket.end(response);
      socket.destroySoon?.();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', cleanup);
    };
    const onData = (chunk: Buffer): void => {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const line = firstLine(head);
      if (line === undefined && head.length < MAX_LINE) return;
      if (line !== undefined && isVersionless(line)) return refuse(BAD_REQUEST);
      cleanup();
      // Hand the bytes read so far back to the stream: Node's parser reads them first, then
      // consumes the socket natively. Reading stops until it is attached, so no byte overtakes.
      socket.pause();
      socket.unshift(head);
      handOver(socket);
      socket.resume();
    };
    if (headTimeoutMs > 0) timer = setTimeout(() => refuse(REQUEST_TIMEOUT), headTimeoutMs);
    socket.on('data', onData);
    socket.once('close', cleanup);
  });
}
