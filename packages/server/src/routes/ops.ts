import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { SERVER_VERSION } from '../version.js';

/**
 * `GET /health`, `/version` and `/metrics` (Prometheus text). They need no API key, as in vLLM,
 * and log only warnings: probes and scrapes would otherwise fill the log.
 */
export function opsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/health', { logLevel: 'warn' }, async (_request, reply) => reply.status(200).send());
  app.get('/version', { logLevel: 'warn' }, async () => ({ version: SERVER_VERSION }));
  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const { text, contentType } = await ctx.metrics.render();
    return reply.type(contentType).send(text);
  });
}
