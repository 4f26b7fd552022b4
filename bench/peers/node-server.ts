/**
 * The bare Node `http` peer's server process: the same bytes as the bench apps, produced in JS, as
 * the ceiling for what any server on this machine can do.
 *
 *   node --import tsx bench/peers/node-server.ts --port P --app hello|bytes64k|upload
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import { BYTES64K_BODY, HELLO_BODY, uploadAnswer } from '../lib/payloads.js';

const { values } = parseArgs({ options: { port: { type: 'string' }, app: { type: 'string' } } });
const port = Number(values.port);
const appName = values.app ?? 'hello';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function fixed(body: Buffer, contentType: string): Handler {
  const headers = { 'Content-Type': contentType, 'Content-Length': String(body.length) };
  return (req, res) => {
    req.resume();
    res.writeHead(200, headers);
    res.end(body);
  };
}

const upload: Handler = (req, res) => {
  const hash = createHash('sha256');
  let total = 0;
  req.on('data', (chunk: Buffer) => {
    total += chunk.length;
    hash.update(chunk);
  });
  req.on('end', () => {
    const body = uploadAnswer(total, hash.digest('hex'));
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(body.length) });
    res.end(body);
  });
};

const handlers: Record<string, Handler> = {
  hello: fixed(HELLO_BODY, 'text/plain'),
  bytes64k: fixed(BYTES64K_BODY, 'application/octet-stream'),
  upload,
};

const handler = handlers[appName];
if (!handler) {
  process.stderr.write(`node-server: no JS version of app ${appName}\n`);
  process.exit(2);
}
const server = http.createServer(handler);
server.keepAliveTimeout = 5000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`node-server: ${appName} on http://127.0.0.1:${port}/\n`));
const shutdown = () => server.close(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
