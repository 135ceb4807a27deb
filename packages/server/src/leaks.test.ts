import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LLM, type RequestHandle, type Tokenizer, TokenizerError } from '@ignis/engine';
import { fixturePath } from '@ignis/models/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServedEngine } from './context.js';
import { MODEL, type TestServer, startServer } from './testing/harness.js';

/**
 * No file path or other detail of the server reaches a client: not through a chat template's
 * error, nor through a failure of the tokenizer or the engine, streamed or not. The operator
 * still finds the details in the log.
 */

/** Where the server's model lives, as a failure's message would give it. */
const SECRET_DIR = '/srv/private/models/llama';
const INTERNAL = { error: { message: 'internal server error; the server log has the details', type: 'server_error', param: null, code: null } };

let dir: string;
beforeAll(async () => {
  // The fixture with a template that refuses tool messages, as real templates refuse roles they do not know.
  dir = await mkdtemp(join(tmpdir(), 'ignis-leaks-'));
  await cp(fixturePath(MODEL), dir, { recursive: true });
  const template = `{% for message in messages %}{% if message['role'] == 'tool' %}{{ raise_exception('tool messages are not supported') }}{% endif %}{{ message['content'] }}\n{% endfor %}`;
  await writeFile(join(dir, 'chat_template.jinja'), template);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const served = (llm: LLM, change: Partial<ServedEngine>): ServedEngine => ({
  stream: llm.stream.bind(llm), stats: llm.stats.bind(llm), maxModelLen: llm.maxModelLen, tokenizer: llm.tokenizer, ...change,
}); // prettier-ignore
const errorLogs = (s: TestServer) => s.logs.filter((l) => l.level >= 50).map((l) => JSON.stringify(l));
const TOOL_CHAT = { messages: [{ role: 'user', content: 'hi' }, { role: 'tool', content: '42' }], max_tokens: 2 };

describe('a chat template that refuses the messages', () => {
  it('is a 400 that gives the reason, not the template file', async () => {
    server = await startServer({}, {}, { modelDir: dir });
    const expected = { error: { message: "the model's chat template cannot render these messages: tool messages are not supported", type: 'invalid_request_error', param: 'messages', code: null } };
    expect(await server.post('/v1/chat/completions', TOOL_CHAT)).toMatchObject({ status: 400, body: expected });
    expect(await server.post('/tokenize', TOOL_CHAT)).toMatchObject({ status: 400, body: expected });
    expect(errorLogs(server)).toEqual([]);
  });
});

describe('a failure of the server', () => {
  it('of the tokenizer: 500 without its message, which is logged', async () => {
    const failing = (llm: LLM): ServedEngine => {
      const tokenizer: Tokenizer = Object.create(llm.tokenizer!) as Tokenizer;
      tokenizer.encode = () => Promise.reject(new TokenizerError(`tokenizers rejected ${SECRET_DIR}/tokenizer.json: out of memory`));
      return served(llm, { tokenizer });
    };
    server = await startServer({}, {}, { serve: failing });
    expect(await server.post('/v1/completions', { prompt: 'hi' })).toMatchObject({ status: 500, body: INTERNAL });
    expect(await server.post('/tokenize', { prompt: 'hi' })).toMatchObject({ status: 500, body: INTERNAL });
    expect(errorLogs(server).join('\n')).toContain(`${SECRET_DIR}/tokenizer.json`);
  });

  it('of the engine, before or during a stream: 500, or an error event and [DONE], without its message', async () => {
    const failure = new Error(`cannot read ${SECRET_DIR}/model-00001-of-00004.safetensors: EIO`);
    // Each request fails once its first delta is out.
    const failing = (llm: LLM): ServedEngine =>
      served(llm, {
        stream: async (prompt, params): Promise<RequestHandle> => {
          const handle = await llm.stream(prompt, params);
          return {
            requestId: handle.requestId,
            abort: () => handle.abort(),
            result: handle.result.then(() => Promise.reject(failure)),
            async *[Symbol.asyncIterator]() {
              for await (const delta of handle) {
                yield delta;
                throw failure;
              }
            },
          };
        },
      });
    server = await startServer({}, {}, { serve: failing });
    const request = { prompt: [1, 2, 3], max_tokens: 3 };
    expect(await server.post('/v1/completions', request)).toMatchObject({ status: 500, body: INTERNAL });
    const response = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...request, stream: true }) });
    const events = (await response.text()).split('\n\n').filter((e) => e !== '');
    expect(events.slice(-2)).toEqual([`data: ${JSON.stringify(INTERNAL)}`, 'data: [DONE]']);
    expect(events.join('\n')).not.toContain(SECRET_DIR);
    expect(errorLogs(server).join('\n')).toContain(`${SECRET_DIR}/model-00001-of-00004.safetensors`);
  });
});
