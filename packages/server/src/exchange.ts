import type { GenerateResult, RequestHandle } from '@ignis/engine';

/** Why the engine requests of an exchange were cut short. */
export type AbortCause = 'disconnected' | 'shutdown';

/**
 * One HTTP request and the engine requests it started: they are aborted at once when the client
 * goes away (their KV blocks are freed in the next step) or when shutdown's grace period ends.
 * It also gathers what the request's log line reports.
 */
export class Exchange {
  private readonly handles: RequestHandle[] = [];
  private readonly results: Promise<GenerateResult>[] = [];
  abortCause: AbortCause | undefined;
  /** The response's id (cmpl-..., chatcmpl-...), the client's `user`, and the token counts and first-token time of what ran. */
  responseId: string | undefined;
  user: string | undefined;
  promptTokens = 0;
  completionTokens = 0;
  timeToFirstTokenMs: number | undefined;

  /** Takes an engine request: aborted at once if the exchange already was. */
  track(handle: RequestHandle): void {
    this.handles.push(handle);
    this.results.push(handle.result);
    handle.result.then(
      (result) => {
        this.promptTokens += result.promptTokenIds.length;
        for (const output of result.outputs) this.completionTokens += output.tokenIds.length;
        this.timeToFirstTokenMs = Math.min(this.timeToFirstTokenMs ?? Infinity, result.timeToFirstTokenMs);
      },
      () => undefined, // an engine failure is reported by the route that awaits the result
    );
    if (this.abortCause) handle.abort();
  }

  abort(cause: AbortCause): void {
    this.abortCause ??= cause;
    for (const handle of this.handles) handle.abort();
  }

  /** Resolves once every engine request it started has ended, however it ended. */
  async settled(): Promise<void> {
    for (let seen = -1; seen !== this.results.length; ) {
      seen = this.results.length;
      await Promise.allSettled(this.results);
    }
  }
}
