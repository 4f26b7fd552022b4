/**
 * Addresses and names: `Listen`, `<VirtualHost addr[:port] ...>` and `ServerName`.
 */
import { ConfigError } from '../errors.js';
import type { Where } from './lexer.js';

/** An address and port as written in Listen or VirtualHost (port `*` = any). */
export interface HostPort {
  readonly address: string;
  readonly port: number | '*';
}

const validPort = (s: string): boolean => /^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 65535;

/** Splits `addr:port`, `[v6]:port`, `addr` or `port` (`port` only when `bareIsPort`). */
function splitHostPort(text: string, bareIsPort: boolean): { address: string; port: string | undefined } {
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (v6) return { address: v6[1]!, port: v6[2] };
  const colon = text.lastIndexOf(':');
  if (colon >= 0 && text.indexOf(':') === colon) return { address: text.slice(0, colon), port: text.slice(colon + 1) };
  if (colon >= 0) return { address: text, port: undefined };
  if (bareIsPort && /^\d+$/.test(text)) return { address: '*', port: text };
  return { address: text, port: undefined };
}

/**
 * Parses `Listen [address:]port [protocol]`.
 *
 * @throws ConfigError for a missing or out-of-range port.
 */
export function parseListen(args: string[], where: Where): { address: string; port: number; protocol?: string } {
  const fail = (msg: string): never => { throw new ConfigError(where.file, where.line, msg); };
  if (args.length < 1 || args.length > 2) fail(`Listen takes one or two arguments, [address:]port [protocol], got ${args.length}`);
  const { address, port } = splitHostPort(args[0]!, true);
  if (port === undefined) fail(`Port must be specified: expected Listen [address:]port, got '${args[0]}'`);
  if (!validPort(port!)) fail(`Invalid port '${port}' in Listen ${args[0]}: expected a number from 1 to 65535`);
  return { address: address === '' ? '*' : address, port: Number(port), ...(args[1] ? { protocol: args[1] } : {}) };
}

/**
 * Parses one `<VirtualHost>` address: `*:80`, `_default_:443`, `192.0.2.1`, `[::1]:8080`,
 * `host:port`; `_default_` is stored as `*`, a missing or `*` port as `*`.
 */
export function parseVhostAddress(text: string, where: Where): HostPort {
  const { address, port } = splitHostPort(text, false);
  if (address === '') throw new ConfigError(where.file, where.line, `<VirtualHost> address '${text}' has no host: expected e.g. *:80`);
  if (port !== undefined && port !== '*' && !validPort(port)) {
    throw new ConfigError(where.file, where.line, `Invalid port '${port}' in <VirtualHost ${text}>: expected a number from 1 to 65535 or *`);
  }
  return { address: address === '_default_' ? '*' : address, port: port === undefined || port === '*' ? '*' : Number(port) };
}

/** Parses `ServerName [scheme://]host[:port]`. */
export function parseServerName(args: string[], where: Where): { host: string; port?: number } {
  const fail = (msg: string): never => { throw new ConfigError(where.file, where.line, msg); };
  if (args.length !== 1) fail(`ServerName takes one argument, the hostname and port of the server, got ${args.length}`);
  const text = args[0]!.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const { address, port } = splitHostPort(text, false);
  if (address === '') fail(`ServerName '${args[0]}' has no host name`);
  if (port === undefined) return { host: address };
  if (!validPort(port)) fail(`The port number "${port}" is outside the appropriate range (i.e., 1..65535).`);
  return { host: address, port: Number(port) };
}

/** `address:port` for messages (IPv6 in brackets). */
export function formatHostPort(address: string, port: number | '*'): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}
