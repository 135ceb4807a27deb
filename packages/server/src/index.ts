export { createServer, type ServerOptions } from './server.js';
export { ignisOpenAI, type IgnisOpenAIOptions } from './plugin.js';
export { DEFAULT_REQUEST_LIMITS, type RequestLimits } from './limits.js';
export type { ServedEngine } from './context.js';
export { OpenAIError, type OpenAIErrorBody } from './openai-errors.js';
export { SERVER_VERSION } from './version.js';
