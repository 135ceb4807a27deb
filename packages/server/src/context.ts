import type { LLM } from '@ignis/engine';
import type { Admission } from './admission.js';
import type { Exchange } from './exchange.js';
import type { RequestLimits } from './limits.js';
import type { TokenTexts } from './logprobs.js';
import type { ServerMetrics } from './metrics.js';

/** What the server needs of an engine: an `LLM`, or anything shaped like one (a test double, a proxy). */
export type ServedEngine = Pick<LLM, 'stream' | 'stats' | 'tokenizer' | 'maxModelLen'> & Partial<Pick<LLM, 'dtype' | 'quantization' | 'kvCacheDtype'>>;

/** What every route shares. */
export interface ServerContext {
  readonly engine: ServedEngine;
  /** The one model this server serves, as `model` fields name it. */
  readonly modelName: string;
  readonly metrics: ServerMetrics;
  readonly admission: Admission;
  readonly limits: RequestLimits;
  readonly tokenTexts: TokenTexts;
  /** The exchange of a request (made when it arrived). */
  exchange(request: object): Exchange;
}
