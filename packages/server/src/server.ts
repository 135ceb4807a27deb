import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { ServedEngine } from './context.js';
import { closeConnectionsWhenDrained } from './drain.js';
import { DEFAULT_REQUEST_LIMITS } from './limits.js';
import { OpenAIError } from './openai-errors.js';
import { type IgnisOpenAIOptions, ignisOpenAI } from './plugin.js';

/** Options of {@link createServer}: the plugin's, and Fastify's logger. */
export interface ServerOptions extends Omit<IgnisOpenAIOptions, 'engine'> {
  /** Fastify's `logger` option: true for pino's JSON lines on stdout, pino options (a level, a stream), or false. */
  readonly logger?: FastifyServerOptions['logger'];
}

/**
 * A Fastify app serving `engine` with the {@link ignisOpenAI} plugin; unknown routes get a 404 in
 * OpenAI's shape. Start it with `app.listen({ host, port })`; `app.close()` drains it.
 */
export async function createServer(engine: ServedEngine, options: ServerOptions): Promise<FastifyInstance> {
  const { logger, ...plugin } = options;
  const app = Fastify({
    logger: logger ?? false,
    bodyLimit: plugin.maxBodyBytes ?? DEFAULT_REQUEST_LIMITS.maxBodyBytes, // the plugin's routes set theirs; this is for any other
    // One log line per request comes from the plugin, with token counts and timings.
    logController: new LogController({ disableRequestLogging: true }),
    // The plugin answers requests that arrive while closing, in OpenAI's error shape.
    return503OnClosing: false,
  });
  app.setNotFoundHandler(async (request, reply) => {
    const error = new OpenAIError(404, `no route ${request.method} ${request.url}`, 'invalid_request_error', null, 'not_found');
    return reply.status(404).send(error.body);
  });
  closeConnectionsWhenDrained(app);
  await app.register(ignisOpenAI, { ...plugin, engine });
  return app;
}
