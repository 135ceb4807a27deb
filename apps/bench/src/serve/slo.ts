import type { RequestSample } from '../samples.js';

/** Service-level objectives a request must meet to count toward goodput (ms), as vLLM's --goodput. */
export interface Slo {
  readonly ttft?: number;
  readonly tpot?: number;
  readonly e2el?: number;
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000 };

/** Parses `ttft=200ms,tpot=50ms,e2el=2s` (a bare number is ms). */
export function parseSlo(text: string): Slo {
  const slo: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^(ttft|tpot|e2el)=(\d+(?:\.\d+)?)(ms|s)?$/.exec(part);
    if (!match) throw new Error(`bad SLO '${part}': expected ttft=, tpot= or e2el= with a duration such as 200ms or 2s`);
    slo[match[1]!] = Number(match[2]) * UNITS[match[3] ?? 'ms']!;
  }
  return slo;
}

/** True when the request meets every objective set (TPOT of a one-token request is met). */
export function meetsSlo(s: RequestSample, slo: Slo): boolean {
  return (
    (slo.ttft === undefined || s.ttftMs <= slo.ttft) &&
    (slo.tpot === undefined || s.tpotMs === null || s.tpotMs <= slo.tpot) &&
    (slo.e2el === undefined || s.e2eMs <= slo.e2el)
  );
}

export function describeSlo(slo: Slo): string {
  const parts = Object.entries(slo).map(([k, v]) => `${k} <= ${v} ms`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}
