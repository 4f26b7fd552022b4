/**
 * Operations endpoints of a server: the engine's metrics in the Prometheus text format, and a
 * health check answering 200 while every group can take work and 503 otherwise (with the reasons).
 * On paths of the serving port (answered before any mount), or a metrics port of its own.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Engine } from '../engine.js';

export interface OpsPaths {
  /** Path answering the metrics (e.g. /metrics). */
  metrics?: string;
  /** Path answering the health check (e.g. /healthz). */
  health?: string;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function answerMetrics(engine: Engine, res: ServerResponse): void {
  const registry = engine.metricsRegistry;
  if (!registry) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('metrics are off\n');
    return;
  }
  registry.text().then(
    (text) => {
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    },
    (err: Error) => {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`metrics failed: ${err.message}\n`);
    },
  );
}

function answerHealth(engine: Engine, res: ServerResponse): void {
  const { ok, problems } = engine.healthy();
  const body = ok ? 'ok\n' : problems.join('\n') + '\n';
  res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

/** `next`, with the metrics and health paths answered first. */
export function withOpsEndpoints(engine: Engine, paths: OpsPaths, next: RequestListener): RequestListener {
  if (!paths.metrics && !paths.health) return next;
  return (req, res) => {
    const p = pathOf(req);
    if (p === paths.metrics && req.method === 'GET') return answerMetrics(engine, res);
    if (p === paths.health && (req.method === 'GET' || req.method === 'HEAD')) return answerHealth(engine, res);
    next(req, res);
  };
}

/** A listener of its own for the metrics port: /health answers the health check, anything else the metrics. */
export function metricsListener(engine: Engine): RequestListener {
  return (req, res) => (pathOf(req) === '/health' ? answerHealth(engine, res) : answerMetrics(engine, res));
}
