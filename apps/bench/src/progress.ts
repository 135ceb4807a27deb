/** Where long runs report how far they are. */
export interface Progress {
  update(done: number, total: number): void;
  /** Clears the bar (a TTY) before the summary prints. */
  end(): void;
}

export const silentProgress: Progress = { update: () => undefined, end: () => undefined };

/**
 * A bar redrawn in place on a terminal, at most ten times a second: `label [#####-----] 412/1000 41%`.
 * `clock` gives milliseconds (default `performance.now`; tests pass a fake one).
 */
export function progressBar(
  label: string,
  stream: { write(text: string): unknown; columns?: number },
  clock: () => number = () => performance.now(),
): Progress {
  let last = -Infinity;
  let drawn = false;
  return {
    update(done, total) {
      const now = clock();
      if (done < total && now - last < 100) return;
      last = now;
      const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - 30));
      const filled = Math.round((width * done) / Math.max(1, total));
      stream.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${Math.floor((100 * done) / Math.max(1, total))}%`);
      drawn = true;
    },
    end() {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}

/** The bar on a terminal (stderr); nothing otherwise, so logs and CI output stay clean. */
export function progressFor(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  return stream.isTTY ? progressBar(label, stream) : silentProgress;
}
