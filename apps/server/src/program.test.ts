import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { probeCuda } from '@ignis/cuda-kernels';
import { FIXTURE_MODELS, editedFixture, fixturePath, readReference } from '@ignis/models/testing';
import { describe, expect, it } from 'vitest';
import { defaultServedModelName } from './commands/serve.js';
import { DEFAULT_MODEL_DIR } from './default-model.js';
import { runCli } from './program.js';

/** Runs the CLI in-process, capturing its output. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

const lastJson = (stdout: string): Record<string, unknown> =>
  JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;

describe('ignis generate', () => {
  it.each(FIXTURE_MODELS)('%s: --prompt-ids ... --temperature 0 --ignore-eos --json gives transformers greedy tokens', async (name) => {
    for (const prompt of readReference(name).prompts) {
      const { code, stdout } = await cli(
        'generate', '--model', fixturePath(name), '--prompt-ids', prompt.ids.join(','),
        '--max-tokens', '24', '--temperature', '0', '--ignore-eos', '--json', '--device', 'cpu',
      ); // prettier-ignore
      expect(code).toBe(0);
      const result = lastJson(stdout);
      expect(result.token_ids).toEqual(prompt.greedy);
      expect(result).toMatchObject({ finish_reason: 'length', usage: { prompt_tokens: prompt.ids.length, completion_tokens: 24 } });
      expect(typeof result.text).toBe('string');
    }
  });

  it('uses the bundled model when --model is absent, and prints the text without --json', async () => {
    expect(existsSync(DEFAULT_MODEL_DIR)).toBe(true);
    const { code, stdout, stderr } = await cli('generate', '--prompt', 'Hello world', '--max-tokens', '5', '--seed', '3');
    expect(code).toBe(0);
    expect(stdout.endsWith('\n')).toBe(true);
    expect(stderr).toMatch(/\[ignis\] 5 tokens \(length\) on (cpu|cuda)/);
  });

  it('same seed, same output', async () => {
    const run = () => cli('generate', '--prompt', 'The quick', '--max-tokens', '12', '--seed', '11', '--ignore-eos', '--json');
    expect(lastJson((await run()).stdout).token_ids).toEqual(lastJson((await run()).stdout).token_ids);
  });

  it('reports errors on stderr with a non-zero exit code and nothing on stdout', async () => {
    const cases: [string[], number, RegExp][] = [
      [['generate'], 1, /give exactly one of --prompt TEXT and --prompt-ids/],
      [['generate', '--prompt', 'a', '--prompt-ids', '1'], 1, /give exactly one of/],
      [['generate', '--prompt-ids', '1,x'], 2, /expected comma-separated non-negative integers/],
      [['generate', '--prompt', 'a', '--max-tokens', '0'], 2, /--max-tokens <n>' argument '0' is invalid/],
      [['generate', '--prompt', 'a', '--temperature', '-1'], 2, /--temperature <t>' argument '-1' is invalid/],
      [['generate', '--prompt', 'a', '--device', 'tpu'], 2, /Allowed choices are auto, cpu, cuda/],
      [['generate', '--prompt', 'a', '--dtype', 'float64'], 2, /Allowed choices are auto, float32, bfloat16/],
      ...(probeCuda().available ? [] : ([[['generate', '--prompt', 'a', '--device', 'cuda'], 1, /the CUDA backend is not available: /]] as [string[], number, RegExp][])),
      [['generate', '--prompt', 'a', '--model', '/nonexistent'], 1, /cannot read \/nonexistent\/config.json/],
      [['generate', '--prompt-ids', '1,99999'], 1, /token id 99999 is outside the vocabulary \[0, 4096\)/],
      [['generate', '--prompt', 'a', '--max-model-len', '1'], 2, /argument '1' is invalid/],
    ];
    for (const [argv, expectedCode, message] of cases) {
      const { code, stdout, stderr } = await cli(...argv);
      expect({ argv, code }).toEqual({ argv, code: expectedCode });
      expect(stderr).toMatch(message);
      expect(stdout).toBe('');
    }
  });
});

describe('broken checkpoints', () => {
  it('a hostile config fails generate and serve at once, naming the key', async () => {
    const dir = await editedFixture('mistral-headdim-window', { config: { num_hidden_layers: 1e9 } });
    try {
      const message = /^ignis: error: .*config\.json: num_hidden_layers must be an integer in \[1, 1024\], got 1000000000\n$/;
      for (const argv of [['generate', '--prompt-ids', '1,2'], ['serve', '--port', '0']]) {
        const { code, stdout, stderr } = await cli(...argv, '--model', dir, '--device', 'cpu');
        expect({ argv, code, stdout }).toEqual({ argv, code: 1, stdout: '' });
        expect(stderr).toMatch(message);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--check-weights reads every weight: an infinity between the sampled elements fails generate and serve, naming the tensor', async () => {
    const dir = await editedFixture('mistral-headdim-window', {
      tensors: (t) => {
        (t['model.layers.0.mlp.up_proj.weight']!.data as Float32Array)[4000] = Number.POSITIVE_INFINITY;
      },
    });
    try {
      const generate = ['generate', '--model', dir, '--prompt-ids', '1,2,3', '--max-tokens', '2', '--device', 'cpu'];
      expect((await cli(...generate)).code).toBe(0); // the sample at every load misses it
      const message = /^ignis: error: tensor model\.layers\.0\.mlp\.up_proj\.weight in model\.safetensors holds Infinity at element 4000 of 8192/;
      for (const argv of [generate, ['serve', '--model', dir, '--device', 'cpu', '--port', '0']]) {
        const { code, stdout, stderr } = await cli(...argv, '--check-weights');
        expect({ argv, code, stdout }).toEqual({ argv, code: 1, stdout: '' });
        expect(stderr).toMatch(message);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the built ignis binary', () => {
  const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

  it('runs as a separate process: JSON on the last stdout line, exit code 0; errors exit 1', async () => {
    // `pnpm test` builds first (see the root package.json), so the binary is there.
    expect(existsSync(bin)).toBe(true);
    const run = promisify(execFile);
    const reference = readReference('mistral-headdim-window').prompts[2]!;
    const { stdout } = await run(process.execPath, [
      bin, 'generate', '--model', fixturePath('mistral-headdim-window'), '--prompt-ids', reference.ids.join(','),
      '--max-tokens', '24', '--temperature', '0', '--ignore-eos', '--json',
    ]); // prettier-ignore
    expect(lastJson(stdout).token_ids).toEqual(reference.greedy);
    await expect(run(process.execPath, [bin, 'generate', '--prompt-ids', '-1'])).rejects.toMatchObject({ code: 2 });
  });
});

describe('ignis serve', () => {
  it('reports bad options and models before listening', async () => {
    const cases: [string[], number, RegExp][] = [
      [['serve', '--model', 'synthetic:nope'], 1, /unknown synthetic model nope \(known: llama-3.1-8b/],
      [['serve', '--model', '/nonexistent'], 1, /cannot read \/nonexistent\/config.json/],
      [['serve', '--port', '-1'], 2, /--port <port>' argument '-1' is invalid/],
      [['serve', '--device', 'tpu'], 2, /Allowed choices are auto, cpu, cuda/],
      [['serve', '--max-num-seqs', '0'], 2, /--max-num-seqs <n>' argument '0' is invalid/],
      [['serve', '--max-chat-messages', '0'], 2, /--max-chat-messages <n>' argument '0' is invalid/],
      [['serve', '--max-prompt-chars', '1.5'], 2, /--max-prompt-chars <n>' argument '1.5' is invalid/],
    ];
    for (const [argv, expectedCode, message] of cases) {
      const { code, stderr } = await cli(...argv);
      expect({ argv, code }).toEqual({ argv, code: expectedCode });
      expect(stderr).toMatch(message);
    }
  });

  it('names the model by its directory, never by its path', () => {
    expect(defaultServedModelName('/srv/models/Llama-3.1-8B/')).toBe('Llama-3.1-8B');
    expect(defaultServedModelName('models/demo')).toBe('demo');
    expect(defaultServedModelName('.')).toBe(basename(process.cwd()));
    expect(defaultServedModelName('synthetic:llama-3.1-8b')).toBe('synthetic:llama-3.1-8b');
  });

  it('the binary serves the bundled model until SIGTERM (a second is ignored), which lets a running stream finish, then exits 0', async () => {
    const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    // A grace period of an hour: the stream running at SIGTERM finishes however busy the machine is.
    const args = ['serve', '--port', '0', '--model', DEFAULT_MODEL_DIR, '--max-model-len', '512', '--max-num-seqs', '8', '--device', 'cpu', '--shutdown-grace', '3600'];
    const server = spawn(process.execPath, [bin, ...args], { env: { ...process.env, IGNIS_API_KEY: 'k' } });
    let stdout = '';
    let stderr = '';
    server.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    server.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const exited = once(server, 'exit');
    try {
      while (!/OpenAI API at (\S+)/.test(stderr)) {
        if (server.exitCode !== null) throw new Error(stderr);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const api = /OpenAI API at (\S+)/.exec(stderr)![1]!;
      expect(stderr).toMatch(/serving ignis-demo-10m on cpu \(f32, weights: \d+ x f32; KV cache f32\), context 512 tokens, .* \(API key required\)/);
      const auth = { authorization: 'Bearer k', 'content-type': 'application/json' };
      expect((await fetch(`${api}/models`)).status).toBe(401);
      // Named by the directory's base name, in the API and in the metrics anyone may read: never its path.
      expect(await (await fetch(`${api}/models`, { headers: auth })).json()).toMatchObject({ data: [{ id: 'ignis-demo-10m', root: 'ignis-demo-10m', max_model_len: 512 }] });
      const metrics = await (await fetch(api.replace(/\/v1$/, '/metrics'))).text();
      expect(metrics).toContain('model_name="ignis-demo-10m"');
      expect(metrics).not.toContain(DEFAULT_MODEL_DIR);

      // The load client, against the real server.
      const load = await promisify(execFile)(process.execPath, [
        fileURLToPath(new URL('../dist/stream-load.js', import.meta.url)),
        '--base-url', api, '--api-key', 'k', '--concurrency', '1,4', '--requests', '8', '--input-len', '8', '--output-len', '8', '--json',
      ]); // prettier-ignore
      interface Level { model: string; concurrency: number; requests: number; timeToFirstTokenMs: { p50: number; p90: number }; outputTokensPerSecond: number }
      const levels = load.stdout.trim().split('\n').map((line) => JSON.parse(line) as Level);
      expect(levels.map((l) => [l.model, l.concurrency, l.requests])).toEqual([['ignis-demo-10m', 1, 8], ['ignis-demo-10m', 4, 8]]);
      for (const level of levels) {
        expect(level.timeToFirstTokenMs.p50).toBeGreaterThan(0);
        expect(level.timeToFirstTokenMs.p90).toBeGreaterThanOrEqual(level.timeToFirstTokenMs.p50);
        expect(level.outputTokensPerSecond).toBeGreaterThan(0);
      }
      expect(load.stderr).toMatch(/4 concurrent: TTFT p50 [\d.]+ ms, p90 [\d.]+ ms; [\d.]+ output tokens\/s/);

      // A stream running when SIGTERM comes finishes, a second SIGTERM notwithstanding; the process then exits 0.
      const body = { model: 'ignis-demo-10m', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 200, ignore_eos: true, stream: true };
      const response = await fetch(`${api}/chat/completions`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      const reader = response.body!.getReader();
      let events = new TextDecoder().decode((await reader.read()).value);
      const stderrSays = async (text: string) => {
        while (!stderr.includes(text)) await new Promise((resolve) => setTimeout(resolve, 5));
      };
      server.kill('SIGTERM');
      await stderrSays('SIGTERM: no new requests');
      server.kill('SIGTERM');
      await stderrSays('SIGTERM again: still draining');
      for (let r = await reader.read(); !r.done; r = await reader.read()) events += new TextDecoder().decode(r.value);
      expect(events).toContain('"finish_reason":"length"');
      expect(events.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(await exited).toEqual([0, null]);
      expect(stderr).toMatch(/SIGTERM: no new requests; running ones have 3600 s to finish\n\[ignis\] SIGTERM again: still draining; a third stop signal exits at once\n\[ignis\] stopped/);
      const requests = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l.msg === 'request');
      expect(requests.at(-1)).toMatchObject({ url: '/v1/chat/completions', status: 200, outcome: 'ok', completionTokens: 200 });
    } finally {
      server.kill('SIGKILL');
    }
  }, 120_000); // ~6 s alone; far longer while CI runs every package's tests at once
});
