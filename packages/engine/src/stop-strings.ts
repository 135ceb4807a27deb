/** Where generated text must stop, and how much of it is safe to show. */
export interface StopScan {
  /** Index in the text where the earliest stop string begins, if one has appeared. */
  readonly stopAt: number | undefined;
  /** Length of the prefix that can be shown now: no stop string can still begin inside it. */
  readonly safeLength: number;
}

/**
 * Finds stop strings in text that grows at its end. Text that might be the start of a stop
 * string is held back (not in `safeLength`) until the next tokens decide it.
 */
export class StopStrings {
  private readonly longest: number;

  constructor(private readonly stops: readonly string[]) {
    this.longest = stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  /** Scans `text`, of which everything before `newFrom` was scanned before. */
  scan(text: string, newFrom: number): StopScan {
    if (this.stops.length === 0) return { stopAt: undefined, safeLength: text.length };
    // A stop string that ends in the new text may begin up to longest - 1 characters before it.
    const from = Math.max(0, newFrom - this.longest + 1);
    let stopAt: number | undefined;
    for (const stop of this.stops) {
      const at = text.indexOf(stop, from);
      if (at >= 0 && (stopAt === undefined || at < stopAt)) stopAt = at;
    }
    if (stopAt !== undefined) return { stopAt, safeLength: stopAt };
    return { stopAt: undefined, safeLength: text.length - this.pendingSuffix(text) };
  }

  /** Length of the longest end of `text` that is a proper prefix of some stop string. */
  private pendingSuffix(text: string): number {
    for (let n = Math.min(this.longest - 1, text.length); n > 0; n--) {
      const tail = text.slice(text.length - n);
      if (this.stops.some((s) => s.startsWith(tail))) return n;
    }
    return 0;
  }
}
