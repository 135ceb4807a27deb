import type { LLM } from '@ignis/engine';
import { OpenAIError } from './openai-errors.js';

/** Seconds a refused client is told to wait: about the time a busy queue takes to move on. */
const RETRY_AFTER_SECONDS = 1;

/**
 * Bounds the sequences waiting for the engine (each of a request's prompts x n is one): a request
 * that would take the waiting count past `maxWaiting` is refused with 429 and Retry-After instead
 * of queueing without end. Sequences between this check and the engine's queue (prompt ids still
 * being handed over) count too, so a burst cannot slip past the bound. A request with more than
 * `maxWaiting` sequences alone could never be admitted: `checkSequences` refuses it with 400
 * before it gets here.
 */
export class Admission {
  private entering = 0;

  constructor(
    private readonly engine: Pick<LLM, 'stats'>,
    /** Most sequences waiting for the engine. */
    readonly maxWaiting: number,
  ) {}

  /** Runs `submit`, which hands `count` requests to the engine, if there is room for them; else throws 429. */
  async admit<T>(count: number, submit: () => Promise<T>): Promise<T> {
    const waiting = this.engine.stats().waiting + this.entering;
    if (waiting + count > this.maxWaiting) {
      throw new OpenAIError(
        429,
        `the server is at capacity: requests waiting ${waiting}, at most ${this.maxWaiting}; retry after ${RETRY_AFTER_SECONDS} s`,
        'rate_limit_error',
        null,
        'queue_full',
        { 'retry-after': String(RETRY_AFTER_SECONDS) },
      );
    }
    this.entering += count;
    try {
      return await submit();
    } finally {
      this.entering -= count;
    }
  }
}
