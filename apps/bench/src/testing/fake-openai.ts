import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the fake server answers. */
export interface FakeServerOptions {
  /** Delay before the first token, and between later tokens (ms). */
  readonly firstTokenMs: number;
  readonly interTokenMs: number;
  /** Every n-th request (1-based) gets HTTP 500 instead of a stream. */
  readonly failEvery?: number;
  /** Leave the usage chunk out even when asked for it. */
  readonly noUsage?: boolean;
}

/** A running fake server: its URL, what it saw, and how to stop it. */
export interface FakeServer {
  readonly baseUrl: string;
  /** Request bodies, in arrival order. */
  readonly bodies: Record<string, unknown>[];
  /** Most requests it was streaming at once. */
  readonly peakInFlight: () => number;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A tiny OpenAI-compatible `/v1/completions` server for tests of the serving benchmark: streams
 * `max_tokens` tokens ("t0 ", "t1 ", ...) as SSE with known delays, then the usage chunk when
 * `stream_options.include_usage` is set, then `[DONE]`. Listens on 127.0.0.1, port 0.
 */
export async function startFakeServer(options: FakeServerOptions): Promise<FakeServer> {
  const bodies: Record<string, unknown>[] = [];
  let inFlight = 0;
  let peak = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST' || req.url !== '/v1/completions') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw) as { model: string; prompt: string | number[]; max_tokens: number; stream_options?: { include_usage?: boolean } };
    bodies.push(body);
    if (options.failEvery && bodies.length % options.failEvery === 0) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'injected failure', type: 'server_error' } }));
      return;
    }
    peak = Math.max(peak, ++inFlight);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (data: unknown) => res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    const base = { id: `cmpl-${bodies.length}`, object: 'text_completion', created: 0, model: body.model };
    for (let i = 0; i < body.max_tokens; i++) {
      await sleep(i === 0 ? options.firstTokenMs : options.interTokenMs);
      send({ ...base, choices: [{ index: 0, text: `t${i} `, logprobs: null, finish_reason: i === body.max_tokens - 1 ? 'length' : null }] });
    }
    const promptTokens = typeof body.prompt === 'string' ? body.prompt.split(' ').length : body.prompt.length;
    if (body.stream_options?.include_usage && !options.noUsage) {
      send({ ...base, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: body.max_tokens, total_tokens: promptTokens + body.max_tokens } });
    }
    send('[DONE]');
    inFlight--;
    res.end();
  };
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    bodies,
    peakInFlight: () => peak,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
