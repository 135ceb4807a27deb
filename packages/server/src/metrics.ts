import type { EngineStats, GenerateResult } from '@ignis/engine';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** vLLM's histogram buckets (seconds), so that dashboards built for vLLM read ours the same way. */
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const REQUEST_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

/**
 * The server's Prometheus metrics, named as vLLM's with the `ignis:` prefix, in a registry of its
 * own (several servers in one process never mix). Latencies and token counts are observed from
 * each finished request; queue lengths, KV usage, prefix-cache counts and preemptions are read
 * from the engine when scraped.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly ttft: Histogram;
  private readonly interToken: Histogram;
  private readonly e2e: Histogram;
  private readonly queue: Histogram;
  private readonly promptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly success: Counter<'finished_reason'>;

  constructor(stats: () => EngineStats, modelName: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ model_name: modelName });
    const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, buckets, registers });
    this.ttft = histogram('ignis:time_to_first_token_seconds', 'Time to first token: arrival to the first generated token.', TTFT_BUCKETS);
    this.interToken = histogram('ignis:inter_token_latency_seconds', 'Time between consecutive generated tokens.', ITL_BUCKETS);
    this.e2e = histogram('ignis:e2e_request_latency_seconds', 'Arrival to the last token of a finished request.', REQUEST_BUCKETS);
    this.queue = histogram('ignis:request_queue_time_seconds', 'Arrival to the first step that computed any of the request.', REQUEST_BUCKETS);
    this.promptTokens = new Counter({ name: 'ignis:prompt_tokens_total', help: 'Prompt tokens of requests served.', registers });
    this.generationTokens = new Counter({ name: 'ignis:generation_tokens_total', help: 'Tokens generated.', registers });
    this.success = new Counter({ name: 'ignis:request_success_total', help: 'Finished requests, by finish reason.', labelNames: ['finished_reason'], registers });

    // Read from the engine at scrape time. The engine's counters only grow, so a counter here
    // moves by what the engine's moved since the last scrape.
    const gauge = (name: string, help: string, read: (s: EngineStats) => number) =>
      new Gauge({ name, help, registers, collect: function (this: Gauge) { this.set(read(stats())); } }); // prettier-ignore
    const counter = (name: string, help: string, read: (s: EngineStats) => number) => {
      let seen = 0;
      return new Counter({ name, help, registers, collect: function (this: Counter) { const now = read(stats()); this.inc(now - seen); seen = now; } }); // prettier-ignore
    };
    gauge('ignis:num_requests_running', 'Sequences in the running batch.', (s) => s.running);
    gauge('ignis:num_requests_waiting', 'Sequences waiting to run (new or preempted).', (s) => s.waiting);
    gauge('ignis:kv_cache_usage_perc', 'Fraction of KV-cache blocks held by requests (1 = full).', (s) => s.kvCacheUsage);
    gauge('ignis:prefix_cache_hit_rate', 'Prompt tokens taken from the prefix cache over prompt tokens admitted, since start.', (s) =>
      s.promptTokens === 0 ? 0 : s.reusedPromptTokens / s.promptTokens,
    );
    counter('ignis:prefix_cache_queries_total', 'Prompt tokens looked up in the prefix cache.', (s) => s.promptTokens);
    counter('ignis:prefix_cache_hits_total', 'Prompt tokens found in the prefix cache.', (s) => s.reusedPromptTokens);
    counter('ignis:num_preemptions_total', 'Sequences preempted to free KV blocks.', (s) => s.preemptions);
  }

  /** Records one prompt's request once all its completions ended (aborted ones count tokens, not latencies). */
  observe(result: GenerateResult): void {
    this.promptTokens.inc(result.promptTokenIds.length);
    for (const [i, output] of result.outputs.entries()) {
      const m = result.metrics[i]!;
      this.generationTokens.inc(output.tokenIds.length);
      this.success.inc({ finished_reason: output.finishReason });
      if (output.finishReason === 'abort') continue;
      this.queue.observe(m.queueMs / 1000);
      this.ttft.observe(m.timeToFirstTokenMs / 1000);
      this.e2e.observe(m.totalMs / 1000);
      for (const gap of m.interTokenMs) this.interToken.observe(gap / 1000);
    }
  }

  /** The Prometheus text exposition, and its content type. */
  async render(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
