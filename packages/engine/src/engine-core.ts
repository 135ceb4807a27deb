import type { KvCacheManager } from '@ignis/kv-cache';
import type { Scheduler, StepPlan } from '@ignis/scheduler';
import { type CompletionDelta, type CompletionOutput, CompletionText } from './completion.js';
import type { Request } from './request.js';
import type { Runner } from './runner.js';
import type { Tokenizer } from './tokenizer/index.js';

/** Timings and counts of one finished completion (ms). */
export interface RequestMetrics {
  readonly requestId: string;
  /** Arrival to the first step that computed any of it. */
  readonly queueMs: number;
  /** Arrival to its first generated token. */
  readonly timeToFirstTokenMs: number;
  /** Gaps between consecutive generated tokens. */
  readonly interTokenMs: readonly number[];
  /** Arrival to its last token. */
  readonly totalMs: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly finishReason: string;
}

/** What the engine reports as it runs (metrics for servers and benchmarks). */
export interface EngineEvents {
  onRequestFinished?(metrics: RequestMetrics): void;
  onStep?(info: { scheduled: number; tokens: number; preempted: number }): void;
}

/** How a request ended: its completion and metrics, or the engine's failure. */
export type Outcome = { readonly output: CompletionOutput; readonly metrics: RequestMetrics } | { readonly error: unknown };

/** One submitted request's wiring: its text state and where its deltas and outcome go. */
interface Live {
  readonly request: Request;
  readonly text: CompletionText;
  readonly finished: (outcome: Outcome) => void;
}

/**
 * The step loop: scheduler -> runner -> stop rules -> text, one step after another while work
 * remains, yielding to the event loop between steps. Requests finish by end-of-sequence, length,
 * a stop string or an abort; their blocks are freed at once (prefixes stay cached).
 */
export class EngineCore {
  private readonly live = new Map<string, Live>();
  private readonly aborts = new Set<string>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly scheduler: Scheduler,
    readonly cache: KvCacheManager,
    private readonly runner: Runner,
    private readonly tokenizer: Tokenizer | undefined,
    private readonly eosTokenIds: ReadonlySet<number>,
    private readonly maxModelLen: number,
    private readonly events: EngineEvents = {},
  ) {}

  /** Adds a request; `emit` receives its deltas, `finished` is called once at its end. */
  submit(request: Request, emit: (delta: CompletionDelta) => void, finished: (outcome: Outcome) => void): void {
    this.live.set(request.id, { request, text: new CompletionText(request, this.tokenizer, emit), finished });
    this.scheduler.add(request);
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Ends a request early (its last delta has finish reason 'abort'); unknown or finished ids are ignored. */
  abort(requestId: string): void {
    if (!this.live.has(requestId)) return;
    this.aborts.add(requestId);
    if (!this.running) this.applyAborts();
  }

  get numUnfinished(): number {
    return this.live.size;
  }

  private async loop(): Promise<void> {
    try {
      while (this.live.size > 0) {
        // Yield first: requests submitted in the same tick join this step; I/O runs between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.applyAborts();
        if (this.live.size === 0) break;
        const plan = this.scheduler.schedule();
        if (plan.scheduled.length === 0) throw new Error('the scheduler found nothing to run although requests are waiting (KV cache too small?)');
        await this.step(plan);
      }
    } catch (error) {
      for (const { request, finished } of this.live.values()) {
        this.scheduler.cancel(request.id);
        finished({ error });
      }
      this.live.clear();
    }
  }

  private async step(plan: StepPlan): Promise<void> {
    const now = performance.now();
    for (const { request } of plan.scheduled) (request as Request).firstScheduledAt ??= now;
    const rows = plan.scheduled.map((s) => ({ request: s.request as Request, numNewTokens: s.numNewTokens, sample: s.sample }));
    const sampled = await this.runner.step(rows);
    this.scheduler.update(plan);
    const arrived = performance.now();
    const touched: Live[] = [];
    for (const [request, token] of sampled) {
      request.appendToken(token.tokenId, token.logprob, arrived);
      this.applyStopRules(request, token.tokenId);
      touched.push(this.live.get(request.id)!);
    }
    await Promise.all(touched.map((l) => l.text.advance())); // detokenize, stop strings, deltas
    for (const l of touched) if (l.request.isFinished) this.retire(l);
    this.events.onStep?.({ scheduled: plan.scheduled.length, tokens: plan.numBatchedTokens, preempted: plan.preempted.length });
  }

  /** End-of-sequence (unless ignored), the request's token budget, the model's context. */
  private applyStopRules(request: Request, tokenId: number): void {
    if (!request.params.ignoreEos && this.eosTokenIds.has(tokenId)) request.finishReason = 'stop';
    else if (request.numOutputTokens >= request.params.maxTokens || request.tokenIds.length >= this.maxModelLen) request.finishReason = 'length';
  }

  private applyAborts(): void {
    for (const id of this.aborts) {
      const l = this.live.get(id);
      if (!l) continue;
      l.request.finishReason = 'abort';
      this.scheduler.cancel(id);
      void l.text.advance().then(
        () => this.report(l),
        (error: unknown) => l.finished({ error }),
      );
      this.live.delete(id);
    }
    this.aborts.clear();
  }

  private retire(l: Live): void {
    this.scheduler.finish(l.request.id);
    this.live.delete(l.request.id);
    this.report(l);
  }

  private report(l: Live): void {
    const r = l.request;
    const end = r.lastTokenAt ?? performance.now();
    const metrics: RequestMetrics = {
      requestId: r.id,
      queueMs: (r.firstScheduledAt ?? end) - r.arrivalTime,
      timeToFirstTokenMs: (r.firstTokenAt ?? end) - r.arrivalTime,
      interTokenMs: r.interTokenMs,
      totalMs: end - r.arrivalTime,
      promptTokens: r.promptIds.length,
      outputTokens: r.numOutputTokens,
      finishReason: r.finishReason ?? 'abort',
    };
    this.events.onRequestFinished?.(metrics);
    l.finished({ output: l.text.output(), metrics });
  }
}
