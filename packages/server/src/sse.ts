import { once } from 'node:events';
import type { FastifyReply } from 'fastify';
import { isServerFault, toOpenAIError } from './openai-errors.js';

/** One server-sent event carrying a JSON payload, as OpenAI streams chunks. */
export function sseEvent(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** The event that ends an OpenAI stream. */
export const SSE_DONE = 'data: [DONE]\n\n';

/**
 * Answers with a stream of server-sent events, written to the socket directly: the headers go
 * out at once (a client knows it was accepted while its request still waits for the engine),
 * writes wait for the socket to drain, and writing stops when the client has gone (aborting the
 * engine requests behind the stream is the Exchange's job). The status, 200, is sent first, so a
 * failure after it becomes an error event followed by `data: [DONE]`, as vLLM sends: a client
 * reading to `[DONE]` always sees its stream end.
 */
export async function sendEvents(reply: FastifyReply, events: AsyncIterable<string>): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value); // set by earlier hooks (CORS and the like)
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no', // proxies such as nginx must not hold events back
  });
  res.flushHeaders();
  try {
    for await (const event of events) {
      if (res.destroyed) break;
      if (!res.write(event)) await drainedOrClosed(res);
    }
  } catch (cause) {
    const error = toOpenAIError(cause);
    if (isServerFault(error)) reply.log.error({ err: cause }, 'stream failed');
    if (!res.destroyed) res.write(sseEvent(error.body) + SSE_DONE);
  }
  res.end();
}

/** Resolves when a full socket buffer drains, or the socket closes (no listener is left behind). */
async function drainedOrClosed(res: FastifyReply['raw']): Promise<void> {
  if (res.destroyed) return; // closed already: 'close' will not come again
  const done = new AbortController();
  const { signal } = done;
  await Promise.race([once(res, 'drain', { signal }), once(res, 'close', { signal })]).finally(() => done.abort());
}
