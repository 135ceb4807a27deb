import { createHash, timingSafeEqual } from 'node:crypto';
import { OpenAIError } from './openai-errors.js';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Checks `Authorization: Bearer <key>`, or throws 401 in OpenAI's shape. Compares digests in
 * constant time, so neither the key's length nor its bytes leak through timing.
 */
export function authorize(header: string | undefined, apiKey: string): void {
  if (header === undefined) {
    throw new OpenAIError(401, 'no API key given: send the header Authorization: Bearer <key>', 'invalid_request_error', null, 'missing_api_key');
  }
  if (!timingSafeEqual(digest(header), digest(`Bearer ${apiKey}`))) {
    throw new OpenAIError(401, 'incorrect API key', 'invalid_request_error', null, 'invalid_api_key');
  }
}
