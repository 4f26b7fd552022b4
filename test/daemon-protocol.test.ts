/**
 * The REQUEST frame as the front encodes it, decoded here by the wire format's rules (the daemon's
 * decoder is exercised by every daemon-mode test; this pins the layout, UTF-8 and latin-1 fields).
 */
import test from 'ava';
import { encodeRequest, type RequestFields } from '../ts/daemon/protocol.js';

const ORDER: (keyof RequestFields)[] = [
  'appTarget', 'callable', 'method', 'scriptName', 'pathInfo', 'query', 'requestUri', 'protocol', 'scheme',
  'serverName', 'serverPort', 'localAddr', 'remoteAddr', 'remotePort', 'headers', 'processGroup',
  'applicationGroup', 'groupName', 'groupKind', 'groupStrict',
];
const UTF8 = new Set(['appTarget', 'callable', 'groupName']);

function fields(over: Partial<RequestFields> = {}): RequestFields {
  return {
    appTarget: '/srv/app/wsgi.py', callable: 'application', method: 'GET', scriptName: '/app', pathInfo: '/x',
    query: 'a=1', requestUri: '/app/x?a=1', protocol: 'HTTP/1.1', scheme: 'http', serverName: 'example.com',
    serverPort: '80', localAddr: '127.0.0.1', remoteAddr: '127.0.0.2', remotePort: '40000',
    headers: 'Host\nexample.com\n', processGroup: 'site', applicationGroup: 'example.com|/app',
    groupName: 'example.com|/app', groupKind: 'shared', groupStrict: '0', ...over,
  };
}

function decode(frame: string): { type: number; flags: number; connection: number; fields: Record<string, string>; rest: Buffer } {
  const buf = Buffer.from(frame, 'latin1');
  const type = buf[0];
  const flags = buf[1];
  const len = buf.readUInt32LE(4);
  const connection = buf.readUInt32LE(8);
  const out: Record<string, string> = {};
  let off = 12;
  for (const k of ORDER) {
    const n = buf.readUInt32LE(off);
    out[k] = buf.toString(UTF8.has(k) ? 'utf8' : 'latin1', off + 4, off + 4 + n);
    off += 4 + n;
  }
  if (off !== 8 + len) throw new Error(`payload length ${len} but fields end at ${off - 8}`);
  return { type, flags, connection, fields: out, rest: buf.subarray(off) };
}

test('a REQUEST frame carries every field in order, UTF-8 paths and latin-1 header bytes intact', (t) => {
  const f = fields({ appTarget: '/srv/café/wsgi.py', groupName: 'grüppe', pathInfo: '/\xe9t\xe9', headers: 'X-Raw\n\xff\xe9\x01\n' });
  const d = decode(encodeRequest(f, 5));
  t.is(d.type, 1);
  t.is(d.flags, 5);
  t.is(d.connection, 0, 'room for the connection id, which the native link fills in');
  t.deepEqual(d.fields, { ...f });
  t.is(d.rest.length, 0, 'nothing follows: a bodiless request sends no BODY_END');
});

test('long fields get their full 32-bit length (a 70,000-byte header block)', (t) => {
  const headers = 'Cookie\n' + 'c'.repeat(70000) + '\n';
  const d = decode(encodeRequest(fields({ headers }), 0));
  t.is(d.fields.headers, headers);
});
