import type { KvCacheManager } from '@ignis/kv-cache';
import type { Scheduler } from '@ignis/scheduler';
import { type CompletionDelta, type CompletionOutput, CompletionText } from './completion.js';
import type { Request } from './request.js';
import type { Runner, SampledToken } from './runner.js';
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
  onStep?(info: StepInfo): void;
}

/** One step, as `onStep` reports it. */
export interface StepInfo {
  /** Requests in the step, tokens computed, requests preempted by it. */
  readonly scheduled: number;
  readonly tokens: number;
  readonly preempted: number;
  /** ms in the runner (packing, the backend's step, reading back the samples), and in the rest of the step (scheduling, stop rules, text). */
  readonly runMs: number;
  readonly hostMs: number;
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
 *
 * Host and device overlap: once step N's tokens are in, the end-of-sequence and length rules run
 * at once (they decide what step N+1 holds), and the text work of step N (detokenization, stop
 * strings, deltas) runs while the device computes step N+1. A request that a stop string ends
 * during step N+1 has one token computed for nothing, which is dropped.
 */
export class EngineCore {
  /** Requests still scheduled (waiting or running). */
  private readonly live = new Map<string, Live>();
  /** Requests whose outcome was not reported yet (`live` and those whose last text is pending). */
  private readonly unreported = new Set<Live>();
  private readonly aborts = new Set<string>();
  /** The step loop is running; cleared by the loop itself, in the same turn as it sees no work. */
  private looping = false;
  /** The text work, in step order: one chain, so a request's deltas never interleave. */
  private text: Promise<void> = Promise.resolve();
  /** The last step's requests whose text work waits for the next step's launch. */
  private pendingText: Live[] = [];

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
    const l = { request, text: new CompletionText(request, this.tokenizer, emit), finished };
    this.scheduler.add(request);
    this.live.set(request.id, l);
    this.unreported.add(l);
    if (!this.looping) {
      this.looping = true;
      void this.loop();
    }
  }

  /** Ends a request early (its last delta has finish reason 'abort'); unknown or finished ids are ignored. */
  abort(requestId: string): void {
    if (!this.live.has(requestId)) return;
    this.aborts.add(requestId); // applied before the next step (the loop runs while requests are live)
  }

  get numUnfinished(): number {
    return this.unreported.size;
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        if (this.live.size === 0) {
          this.startText();
          await this.text; // the last deltas; a request submitted meanwhile keeps the loop going
          if (this.live.size === 0) break;
        }
        // Yield first: requests submitted in the same tick join this step; I/O runs between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.applyAborts();
        if (this.live.size > 0) await this.step();
      }
    } catch (error) {
      this.text = Promise.resolve();
      this.pendingText = [];
      for (const l of this.unreported) {
        this.scheduler.cancel(l.request.id);
        l.finished({ error });
      }
      this.unreported.clear();
      this.live.clear();
    } finally {
      this.looping = false;
    }
  }

  /** Plans and launches one step; the previous step's text work runs while the device computes it. */
  private async step(): Promise<void> {
    const startedAt = performance.now();
    const plan = this.scheduler.schedule();
    if (plan.scheduled.length === 0) throw new Error('the scheduler found nothing to run although requests are waiting (KV cache too small?)');
    const launchedAt = performance.now();
    for (const { request } of plan.scheduled) (request as Request).firstScheduledAt ??= launchedAt;
    const run = this.runner.step(plan.scheduled.map((s) => ({ request: s.request as Request, numNewTokens: s.numNewTokens, sample: s.sample })));
    run.catch(() => undefined); // if the text work fails first, this step's failure is not left unhandled
    this.startText(); // the previous step's text, while the device computes this one
    await this.text;
    const sampled = await run;
    const arrivedAt = performance.now();
    this.scheduler.update(plan);
    this.pendingText = this.appendTokens(sampled, arrivedAt);
    const runMs = arrivedAt - launchedAt;
    const hostMs = performance.now() - startedAt - runMs;
    this.events.onStep?.({ scheduled: plan.scheduled.length, tokens: plan.numBatchedTokens, preempted: plan.preempted.length, runMs, hostMs });
  }

  /**
   * Chains the text work of the last step. It is started only once the next step is launched:
   * started at once, its synchronous part (deltas, and whatever a caller does with them, such as
   * writing server-sent events) would run as microtasks before the next launch.
   */
  private startText(): void {
    const touched = this.pendingText;
    if (touched.length === 0) return;
    this.pendingText = [];
    this.text = this.text.then(() => this.processText(touched));
  }

  /**
   * Appends each sampled token and applies end-of-sequence and length at once: requests they end
   * leave the scheduler before the next step is planned. Tokens of requests that ended while the
   * step ran (a stop string found meanwhile) are dropped. Returns the requests to give text to.
   */
  private appendTokens(sampled: ReadonlyMap<Request, SampledToken>, now: number): Live[] {
    const touched: Live[] = [];
    for (const [request, token] of sampled) {
      const l = this.live.get(request.id);
      if (!l || request.isFinished) continue;
      request.appendToken(token.tokenId, token.logprob, now, token.top);
      this.applyStopRules(request, token.tokenId);
      if (request.isFinished) {
        this.scheduler.finish(request.id);
        this.live.delete(request.id);
      }
      touched.push(l);
    }
    return touched;
  }

  /** Detokenizes, looks for stop strings, emits deltas; reports the requests that ended. */
  private async processText(touched: readonly Live[]): Promise<void> {
    await Promise.all(touched.map((l) => l.text.advance()));
    for (const l of touched) {
      if (!l.request.isFinished) continue;
      if (this.live.delete(l.request.id)) this.scheduler.finish(l.request.id); // a stop string ended it
      this.report(l);
    }
  }

  /** End-of-sequence (unless ignored), the request's token budget, the model's context. */
  private applyStopRules(request: Request, tokenId: number): void {
    if (!request.params.ignoreEos && this.eosTokenIds.has(tokenId)) request.finishReason = 'stop';
    else if (request.numOutputTokens >= request.params.maxTokens || request.tokenIds.length >= this.maxModelLen) request.finishReason = 'length';
  }

  /** Ends aborted requests now (blocks freed); their last delta follows the text work in flight. */
  private applyAborts(): void {
    for (const id of this.aborts) {
      const l = this.live.get(id);
      if (!l) continue;
      l.request.finishReason = 'abort';
      this.scheduler.cancel(id);
      this.live.delete(id);
      this.text = this.text.then(async () => {
        await l.text.advance();
        this.report(l);
      });
    }
    this.aborts.clear();
  }

  /** Reports a finished request once (an abort can race with its own last step's text). */
  private report(l: Live): void {
    if (!this.unreported.delete(l)) return;
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
