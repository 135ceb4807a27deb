// Writes the two small tokenizer fixtures used by the tokenizer tests, then checks that the
// `tokenizers` package accepts them. Run from anywhere: `node make-fixtures.mjs`.
// The vocabularies are tiny on purpose: the tests hand-check expected ids against them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from 'tokenizers';

const here = dirname(fileURLToPath(import.meta.url));

function writeJson(dir, name, value) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), `${JSON.stringify(value, null, 1)}\n`);
}

function specialToken(id, content) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function addedTokensDecoder(tokens) {
  const entries = tokens.map(({ id, ...rest }) => [String(id), rest]);
  return Object.fromEntries(entries);
}

function bosPostProcessor(bos, bosId) {
  const bosPiece = { SpecialToken: { id: bos, type_id: 0 } };
  return {
    type: 'TemplateProcessing',
    single: [bosPiece, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [bosPiece, { Sequence: { id: 'A', type_id: 0 } }, bosPiece, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}

function bpeModel(vocab, merges, { byteFallback, unkToken }) {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: unkToken,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: byteFallback,
    byte_fallback: byteFallback,
    ignore_merges: false,
    vocab,
    merges: merges.map(([a, b]) => `${a} ${b}`),
  };
}

/** Adds each merge's result to the vocabulary, in merge order, from `firstId` on. */
function addMergeResults(vocab, merges, firstId) {
  merges.forEach(([a, b], i) => {
    vocab[a + b] = firstId + i;
  });
  return firstId + merges.length;
}

/** GPT-2's reversible map from bytes to printable characters. */
function bytesToUnicode() {
  const bytes = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = [...bytes];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + extra);
      extra++;
    }
  }
  const map = new Map();
  bytes.forEach((b, i) => map.set(b, String.fromCodePoint(chars[i])));
  return map;
}

function writeByteLevelBpe(dir) {
  const byteChar = bytesToUnicode();
  const vocab = {};
  // Token id = byte value, so byte-token ids in the tests can be read straight off UTF-8 tables.
  for (let b = 0; b < 256; b++) vocab[byteChar.get(b)] = b;
  const merges = [
    ['l', 'l'],
    ['e', 'll'],
    ['H', 'ell'],
    ['Hell', 'o'],
    ['Ġ', 'w'],
    ['o', 'r'],
    ['Ġw', 'or'],
    ['l', 'd'],
    ['Ġwor', 'ld'],
    // The first two bytes of a 4-byte emoji: a token that ends inside a character.
    [byteChar.get(0xf0), byteChar.get(0x9f)],
    // é (C3 A9) as one token.
    [byteChar.get(0xc3), byteChar.get(0xa9)],
  ];
  const nextId = addMergeResults(vocab, merges, 256);
  const specials = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];
  const added = specials.map((content, i) => specialToken(nextId + i, content));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  writeJson(dir, 'tokenizer.json', {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: bosPostProcessor('<|begin_of_text|>', nextId),
    decoder: byteLevel,
    model: bpeModel(vocab, merges, { byteFallback: false, unkToken: null }),
  });
  // Llama 3's own template.
  const chatTemplate =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
  writeJson(dir, 'tokenizer_config.json', {
    added_tokens_decoder: addedTokensDecoder(added),
    bos_token: '<|begin_of_text|>',
    eos_token: '<|end_of_text|>',
    chat_template: chatTemplate,
    tokenizer_class: 'PreTrainedTokenizerFast',
  });
}

function writeSentencePieceBpe(dir) {
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const letters = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'];
  const pieces = ['▁', ...letters, 'é', '.', ',', '!', '?', "'"];
  pieces.forEach((piece, i) => {
    vocab[piece] = 259 + i;
  });
  const merges = [
    ['l', 'l'],
    ['▁', 'H'],
    ['▁H', 'e'],
    ['▁He', 'll'],
    ['▁Hell', 'o'],
    ['▁', 'w'],
    ['o', 'r'],
    ['▁w', 'or'],
    ['l', 'd'],
    ['▁wor', 'ld'],
  ];
  addMergeResults(vocab, merges, 259 + pieces.length);
  const added = [specialToken(0, '<unk>'), specialToken(1, '<s>'), specialToken(2, '</s>')];
  writeJson(dir, 'tokenizer.json', {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: bosPostProcessor('<s>', 1),
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: bpeModel(vocab, merges, { byteFallback: true, unkToken: '<unk>' }),
  });
  const tokenObject = (content) => ({ __type: 'AddedToken', content, lstrip: false, normalized: false, rstrip: false, single_word: false });
  writeJson(dir, 'tokenizer_config.json', {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: addedTokensDecoder(added),
    bos_token: tokenObject('<s>'),
    eos_token: tokenObject('</s>'),
    unk_token: tokenObject('<unk>'),
    tokenizer_class: 'LlamaTokenizer',
  });
  writeJson(dir, 'generation_config.json', { bos_token_id: 1, eos_token_id: 2 });
  writeFileSync(
    join(dir, 'chat_template.jinja'),
    [
      '{{- bos_token }}',
      '{%- for message in messages %}',
      "    {%- if message['role'] == 'system' %}",
      "        {{- '[SYS] ' + message['content'] + ' [/SYS]' }}",
      "    {%- elif message['role'] == 'user' %}",
      "        {{- '[INST] ' + message['content'] + ' [/INST]' }}",
      "    {%- elif message['role'] == 'assistant' %}",
      "        {{- ' ' + message['content'] + eos_token }}",
      '    {%- else %}',
      "        {{- raise_exception('Unsupported role: ' + message['role']) }}",
      '    {%- endif %}',
      '{%- endfor %}',
      '',
    ].join('\n'),
  );
}

const byteLevelDir = join(here, 'byte-level-bpe');
const sentencePieceDir = join(here, 'sentencepiece-bpe');
writeByteLevelBpe(byteLevelDir);
writeSentencePieceBpe(sentencePieceDir);
for (const dir of [byteLevelDir, sentencePieceDir]) {
  const tokenizer = Tokenizer.fromFile(join(dir, 'tokenizer.json'));
  console.log(`${dir}: ${tokenizer.getVocabSize(true)} tokens`);
}
