/**
 * Malformed and hostile requests, on both fronts (`start-server --front native|node`), over raw
 * sockets: request smuggling with both Content-Length and Transfer-Encoding, duplicate
 * Content-Length, a Transfer-Encoding that does not end in chunked, bad chunk sizes, obs-fold,
 * header names that are not tokens, bare LF line ends, oversized heads, control characters, a
 * missing Host. Each gets the answer node:http gives (400, or 431 for an oversized head), the
 * connection closes, the bytes smuggled behind it are never served as a request, and the
 * native front never calls the application for a bad head (a bad chunk is found when the body
 * is read: the application's read fails).
 */
import test from 'ava';
import { parseResponse, rawRequest } from './helpers/http.js';
import { startCli } from './helpers/daemon.js';
import { fixture } from './helpers/wsgi-server.js';

const APP = fixture('front_app.wsgi');
const big = 'a'.repeat(20_000);
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

/** [name, request (latin-1), expected status] */
const CASES: [string, string, number][] = [
  ['Content-Length and Transfer-Encoding', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' + SMUGGLED, 400],
  ['Transfer-Encoding and Content-Length', 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n' + SMUGGLED, 400],
  ['duplicate Content-Length, same value', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc' + SMUGGLED, 400],
  ['duplicate Content-Length, two values', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc' + SMUGGLED, 400],
  ['Transfer-Encoding not ending in chunked', 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n' + SMUGGLED, 400],
  ['Transfer-Encoding chunked, gzip', 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n', 400],
  ['a chunk size that is not hex', 'POST /echo/chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n' + SMUGGLED, 400],
  ['a chunk size followed by a space', 'POST /echo/chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n', 400],
  ['a chunk size past 64 bits', 'POST /echo/chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n', 400],
  ['chunk data not followed by CRLF', 'POST /echo/chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n', 400],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n', 400],
  ['a space in a header name', 'GET / HTTP/1.1\r\nHost: x\r\nX A: a\r\n\r\n', 400],
  ['a space before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
  ['an empty header name', 'GET / HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n', 400],
  ['bare LF line ends', 'GET / HTTP/1.1\nHost: x\n\n', 400],
  ['a CR inside a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n', 400],
  ['a NUL inside a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n', 400],
  ['a control character in the target', 'GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a negative Content-Length', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400],
  ['Content-Length with a plus sign', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc', 400],
  ['Content-Length of two numbers', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3 3\r\n\r\nabc', 400],
  ['an unknown method', 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a lower-case method', 'get / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['a request line without a version', 'GET /\r\n\r\n', 400],
  ['a header of 20 KB', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`, 431],
  ['a target of 20 KB', `GET /${big} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
];

for (const front of ['native', 'node'] as const) {
  test(`${front}: hostile requests get the answer node:http gives, the connection closes, nothing behind them is served`, async (t) => {
    const server = await startCli([APP, '--front', front]);
    try {
      for (const [name, payload, status] of CASES) {
        const r = await rawRequest(server.port, Buffer.from(payload, 'latin1'), { timeoutMs: 5000 });
        t.false(r.timedOut, `${name}: no answer within 5 s`);
        t.true(r.closed, `${name}: the connection stays open`);
        t.is(parseResponse(r.data, { closed: true }).status, status, name);
        // One answer only: what followed the hostile request was not taken for a request.
        t.false(r.data.toString('latin1').slice(4).includes('HTTP/1.1 '), `${name}: more than one response: ${r.data.toString('latin1').slice(0, 300)}`);
      }
      const hitsResponse = await rawRequest(server.port, 'GET /hits HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      // A bad chunk is found when the body is read: the native front has called the application
      // by then, and never for a bad head. node:http may or may not have run a request whose
      // socket it failed (for some heads too, as llhttp reports some errors after the head): its
      // calls are only logged.
      const hits = JSON.parse(parseResponse(hitsResponse.data, { closed: true }).body.toString()) as string[];
      const chunkCases = CASES.filter(([, payload]) => payload.startsWith('POST /echo/chunk ')).length;
      if (front === 'native') t.deepEqual(hits, Array(chunkCases).fill('/echo/chunk'));
      else t.log(`node:http ran the application for: ${JSON.stringify(hits)}`);
    } finally {
      server.kill();
    }
  });
}
