import { LLM, type LLMOptions } from '@ignis/engine';
import { fixturePath } from '@ignis/models/testing';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import type { ServedEngine } from '../context.js';
import { type ServerOptions, createServer } from '../server.js';

/** The fixture the server tests serve: a small random Llama 3 with a tokenizer and a chat template. */
export const MODEL = 'llama3-gqa-sharded';

/** One parsed pino log line. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** A server on 127.0.0.1 (any free port) over its own engine on the reference backend, with its log captured. */
export interface TestServer {
  readonly llm: LLM;
  readonly app: FastifyInstance;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The official client, pointed at the server (no retries: tests see every status). */
  readonly client: OpenAI;
  readonly logs: LogLine[];
  /** Posts JSON (or a raw string) and returns the status, headers and parsed body. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: unknown }>;
  close(): Promise<void>;
}

/** What else a test server may differ in: the model directory (default: {@link MODEL}'s), and what the server sees of the engine (default: the engine itself). */
export interface TestSetup {
  readonly modelDir?: string;
  readonly serve?: (llm: LLM) => ServedEngine;
}

export async function startServer(llmOptions: LLMOptions = {}, serverOptions: Partial<ServerOptions> = {}, setup: TestSetup = {}): Promise<TestServer> {
  const llm = await LLM.load(setup.modelDir ?? fixturePath(MODEL), { device: 'cpu', maxModelLen: 512, ...llmOptions });
  const logs: LogLine[] = [];
  const app = await createServer(setup.serve?.(llm) ?? llm, {
    modelName: MODEL,
    logger: { level: 'info', stream: { write: (line: string) => logs.push(JSON.parse(line) as LogLine) } },
    ...serverOptions,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: serverOptions.apiKey ?? 'unused', maxRetries: 0 });
  return {
    llm,
    app,
    url,
    client,
    logs,
    async post(path, body, headers = {}) {
      const response = await fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
    },
    async close() {
      await app.close();
      llm.dispose();
    },
  };
}

/**
 * Resolves once `condition()` holds, checking it every few milliseconds. It has no time limit of
 * its own (the test's timeout is the limit): a busy machine changes how long the server takes to
 * get there, never what it gets to, so a test waits for the state it needs instead of sleeping.
 */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * Resolves once the engine holds no request (streams that were cut off are freed in the next
 * step); fails if the engine runs `maxSteps` more steps without getting there. Bounded by steps,
 * not time, so that a busy machine cannot fail it.
 */
export async function engineIdle(llm: LLM, maxSteps = 1000): Promise<void> {
  const start = llm.stats().steps;
  for (;;) {
    const s = llm.stats();
    if (s.running === 0 && s.waiting === 0) return;
    if (s.steps - start > maxSteps) throw new Error(`the engine is still busy after ${maxSteps} steps: ${JSON.stringify(s)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
