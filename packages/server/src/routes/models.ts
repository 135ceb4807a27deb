import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { type Body, optionalString } from '../fields.js';
import { OpenAIError } from '../openai-errors.js';

/**
 * `GET /v1/models`: the one model served, with its context length (as vLLM adds) and what it runs
 * in: activation `dtype`, `quantization` of its linear weights (`fp8` or `none`) and `kv_cache_dtype`.
 */
export function modelsRoute(app: FastifyInstance, ctx: ServerContext): void {
  const created = Math.floor(Date.now() / 1000);
  const { dtype, quantization, kvCacheDtype } = ctx.engine;
  const precision = { ...(dtype ? { dtype } : {}), ...(quantization ? { quantization } : {}), ...(kvCacheDtype ? { kv_cache_dtype: kvCacheDtype } : {}) };
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{ id: ctx.modelName, object: 'model', created, owned_by: 'ignis', root: ctx.modelName, max_model_len: ctx.engine.maxModelLen, ...precision }],
  }));
}

/** A request's `model` must be the served one (absent means it); any other is a 404, as OpenAI answers. */
export function requireServedModel(body: Body, ctx: ServerContext): void {
  const model = optionalString(body, 'model');
  if (model !== undefined && model !== ctx.modelName) {
    throw new OpenAIError(404, `The model '${model}' does not exist: this server serves '${ctx.modelName}'`, 'invalid_request_error', 'model', 'model_not_found');
  }
}
