import { afterAll, describe, expect, it } from 'vitest';
import { BYTE_LEVEL_DIR, SENTENCEPIECE_DIR, fixtureCopy, removeFixtureCopies } from './testdata/fixtures.js';
import { HfTokenizer, TokenizerError, type ChatMessage } from './tokenizer.js';

afterAll(removeFixtureCopies);

const CONVERSATION: ChatMessage[] = [
  { role: 'system', content: 'You are helpful.' },
  { role: 'user', content: 'Hi!' },
];

/** tokenizer_config.json of the byte-level fixture with its chat_template replaced (undefined: removed). */
async function byteLevelWithConfigTemplate(template: unknown): Promise<string> {
  const config = { bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>', chat_template: template };
  return fixtureCopy(BYTE_LEVEL_DIR, { 'tokenizer_config.json': JSON.stringify(config) });
}

describe('chat templates', () => {
  it('renders the tokenizer_config.json template with a generation prompt', async () => {
    const tokenizer = await HfTokenizer.load(BYTE_LEVEL_DIR);
    const prompt = tokenizer.applyChatTemplate(CONVERSATION, { addGenerationPrompt: true });
    expect(prompt).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    // The rendered text carries BOS itself; encoding it without special tokens yields exactly one.
    const ids = await tokenizer.encode(prompt, { addSpecialTokens: false });
    expect(ids.filter((id) => id === tokenizer.bosTokenId)).toEqual([267]);
    expect(ids[0]).toBe(267);
  });

  it('leaves out the generation prompt by default', async () => {
    const tokenizer = await HfTokenizer.load(BYTE_LEVEL_DIR);
    expect(tokenizer.applyChatTemplate(CONVERSATION)).not.toContain('assistant');
  });

  it('renders chat_template.jinja with eos_token from an object-form tokenizer_config entry', async () => {
    const tokenizer = await HfTokenizer.load(SENTENCEPIECE_DIR);
    const messages = [...CONVERSATION, { role: 'assistant', content: 'Hello' }];
    expect(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
      '<s>[SYS] You are helpful. [/SYS][INST] Hi! [/INST] Hello</s>',
    );
  });

  it('prefers chat_template.jinja over tokenizer_config.json', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'chat_template.jinja': 'from file: {{ messages[0].content }}' });
    const tokenizer = await HfTokenizer.load(dir);
    expect(tokenizer.applyChatTemplate(CONVERSATION)).toBe('from file: You are helpful.');
  });

  it('passes extra variables to the template', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, {
      'chat_template.jinja': '{% if enable_thinking %}<think>{% endif %}{{ tools | length }}',
    });
    const tokenizer = await HfTokenizer.load(dir);
    expect(tokenizer.applyChatTemplate(CONVERSATION, { extra: { enable_thinking: true, tools: [1, 2] } })).toBe(
      '<think>2',
    );
  });

  it('picks the template named "default" from a list', async () => {
    const dir = await byteLevelWithConfigTemplate([
      { name: 'tool_use', template: 'tools' },
      { name: 'default', template: 'default {{ messages | length }}' },
    ]);
    expect((await HfTokenizer.load(dir)).applyChatTemplate(CONVERSATION)).toBe('default 2');
  });

  it('has no chat template when a list has no "default"', async () => {
    const dir = await byteLevelWithConfigTemplate([{ name: 'tool_use', template: 'tools' }]);
    expect((await HfTokenizer.load(dir)).hasChatTemplate).toBe(false);
  });

  it('says so when the model has no chat template', async () => {
    const dir = await byteLevelWithConfigTemplate(undefined);
    const tokenizer = await HfTokenizer.load(dir);
    expect(tokenizer.hasChatTemplate).toBe(false);
    expect(() => tokenizer.applyChatTemplate(CONVERSATION)).toThrow(TokenizerError);
    expect(() => tokenizer.applyChatTemplate(CONVERSATION)).toThrow(/has no chat template/);
  });

  it('rejects a chat_template that is neither a string nor a list', async () => {
    const dir = await byteLevelWithConfigTemplate(42);
    await expect(HfTokenizer.load(dir)).rejects.toThrow(/chat_template must be a string/);
  });

  it('refuses at load a template that does not parse, naming its file by base name', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'chat_template.jinja': '{% for message in messages %}{{ message' });
    const error = await HfTokenizer.load(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as Error).message).toMatch(/^chat template from chat_template\.jinja failed to parse: .+/);
    expect((error as Error).message).not.toContain(dir);
    const inConfig = await byteLevelWithConfigTemplate([{ name: 'default', template: '{{ messages[0' }]);
    await expect(HfTokenizer.load(inConfig)).rejects.toThrow(/^chat template from tokenizer_config\.json \(template "default"\) failed to parse: .+/);
  });

  it('reports a template that fails while rendering, with its message', async () => {
    const tokenizer = await HfTokenizer.load(SENTENCEPIECE_DIR);
    const messages = [{ role: 'tool', content: '{}' }];
    expect(() => tokenizer.applyChatTemplate(messages)).toThrow(TokenizerError);
    expect(() => tokenizer.applyChatTemplate(messages)).toThrow(/failed to render: .*Unsupported role: tool/);
  });
});
