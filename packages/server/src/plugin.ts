import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Admission } from './admission.js';
import { authorize } from './auth.js';
import type { ServedEngine, ServerContext } from './context.js';
import { Exchange } from './exchange.js';
import { TokenTexts } from './logprobs.js';
import { ServerMetrics } from './metrics.js';
import { type RequestLimits, resolveLimits } from './limits.js';
import { OpenAIError, isServerFault, toOpenAIError } from './openai-errors.js';
import { chatRoute } from './routes/chat.js';
import { completionsRoute } from './routes/completions.js';
import { modelsRoute } from './routes/models.js';
import { opsRoutes } from './routes/ops.js';
import { tokenizeRoutes } from './routes/tokenize.js';

/** Options of {@link ignisOpenAI}: the engine, its name, and the bounds of {@link RequestLimits} (each optional). */
export interface IgnisOpenAIOptions extends Partial<RequestLimits> {
  /** The loaded model (an `LLM` from `@ignis/engine`). */
  readonly engine: ServedEngine;
  /** The name requests give as `model` and responses report. */
  readonly modelName: string;
  /** When set, every route but /health, /version and /metrics needs `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /**
   * Most sequences (prompts x n) waiting for the engine; more are refused with 429 and
   * Retry-After, and a request with more than this alone gets 400 (default: no bound).
   */
  readonly maxWaitingRequests?: number;
  /** On close, how long running requests may take to finish before they are aborted (ms, default 30 000). */
  readonly shutdownGraceMs?: number;
}

const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

/**
 * The OpenAI-compatible API as a Fastify plugin: `/v1/models`, `/v1/completions`,
 * `/v1/chat/completions`, vLLM's `/tokenize` and `/detokenize`, `/health`, `/version` and
 * `/metrics`. Errors have OpenAI's shape. Each request's work is bounded by {@link RequestLimits},
 * checked before the work. Each request writes one log line when it ends. A client that
 * disconnects aborts its engine requests at once. On `app.close()`, new requests get 503 and
 * running ones have `shutdownGraceMs` to finish; then they are aborted (a stream ends with an
 * error event and `[DONE]`).
 */
export const ignisOpenAI: FastifyPluginAsync<IgnisOpenAIOptions> = async (app, options) => {
  const { engine, modelName, apiKey } = options;
  const limits = resolveLimits(options, engine);
  const exchanges = new WeakMap<object, Exchange>();
  const live = new Set<Exchange>();
  let closing = false;
  const ctx: ServerContext = {
    engine,
    modelName,
    metrics: new ServerMetrics(() => engine.stats(), modelName),
    admission: new Admission(engine, options.maxWaitingRequests ?? Infinity),
    limits,
    tokenTexts: new TokenTexts(engine.tokenizer),
    exchange: (request) => exchanges.get(request)!,
  };

  app.addHook('onRequest', async (request, reply) => {
    const exchange = new Exchange();
    exchanges.set(request, exchange);
    live.add(exchange);
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) exchange.abort('disconnected');
      void exchange.settled().then(() => {
        live.delete(exchange);
        logRequest(request, reply, exchange);
      });
    });
    if (closing) {
      exchange.abortCause = 'shutdown';
      throw new OpenAIError(503, 'the server is shutting down', 'server_error', null, 'shutdown');
    }
  });

  app.setErrorHandler(async (cause, request, reply) => {
    const error = toOpenAIError(cause, limits.maxBodyBytes);
    if (isServerFault(error)) request.log.error({ err: cause }, 'request failed');
    return reply.status(error.status).headers(error.headers).send(error.body);
  });

  let grace: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    grace = setTimeout(() => {
      for (const exchange of live) exchange.abort('shutdown');
    }, options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
  });
  app.addHook('onClose', async () => clearTimeout(grace));

  // The API proper, behind the key when there is one; health, version and metrics stay open (as vLLM's).
  await app.register(async (api) => {
    if (apiKey !== undefined) api.addHook('onRequest', async (request) => authorize(request.headers.authorization, apiKey));
    api.addHook('onRoute', (route) => {
      route.bodyLimit = limits.maxBodyBytes;
    });
    modelsRoute(api, ctx);
    completionsRoute(api, ctx);
    chatRoute(api, ctx);
    tokenizeRoutes(api, ctx);
  });
  opsRoutes(app, ctx);
};

/** The request's one log line: ids, token counts, time to first token, total time, status. */
function logRequest(request: FastifyRequest, reply: FastifyReply, exchange: Exchange): void {
  const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 10) / 10);
  const status = reply.statusCode;
  // Shutdown's 503s are expected: only the server's own failures are errors.
  request.log[status >= 500 && exchange.abortCause !== 'shutdown' ? 'error' : 'info'](
    {
      method: request.method,
      url: request.url,
      id: exchange.responseId,
      user: exchange.user,
      status,
      outcome: exchange.abortCause ?? (status < 400 ? 'ok' : 'error'),
      promptTokens: exchange.promptTokens,
      completionTokens: exchange.completionTokens,
      ttftMs: round(exchange.timeToFirstTokenMs),
      totalMs: round(reply.elapsedTime),
    },
    'request',
  );
}
