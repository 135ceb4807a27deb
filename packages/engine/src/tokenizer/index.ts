export { HfTokenizer, TokenizerError, loadTokenizer, type ChatMessage, type Tokenizer } from './tokenizer.js';
export { IncrementalDetokenizer, type IncrementalDetokenizerOptions } from './detokenizer.js';
