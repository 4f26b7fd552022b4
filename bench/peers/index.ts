/** Every peer, in report order. `--only` takes these ids. */
import * as apache from './apache.js';
import * as gunicorn from './gunicorn.js';
import * as node from './node.js';
import * as pyhost from './pyhost.js';
import * as pyhostNewest from './pyhost-newest.js';
import * as uwsgi from './uwsgi.js';
import * as waitress from './waitress.js';
import type { Peer } from './types.js';

export const PEERS: Peer[] = [
  node.peer,
  pyhost.embedded,
  pyhost.daemon,
  pyhost.embeddedNode,
  pyhost.daemonNode,
  pyhostNewest.embedded,
  pyhostNewest.daemon,
  // Only with $PYHOST_BENCH_BASE_CLI (before/after figures).
  ...(pyhost.baseEmbedded && pyhost.baseDaemon ? [pyhost.baseEmbedded, pyhost.baseDaemon] : []),
  apache.embedded,
  apache.daemon,
  gunicorn.sync,
  gunicorn.gthread,
  uwsgi.peer,
  waitress.peer,
];

export type { Peer } from './types.js';
