import type { CliIO } from './io.js';

/** What ends a server: SIGTERM (a supervisor) or SIGINT (Ctrl-C). */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Where signals come from: the process, or an emitter in tests. */
export interface SignalSource {
  on(event: string, listener: (signal: string) => void): unknown;
  off(event: string, listener: (signal: string) => void): unknown;
}

/** The stop signals of a server that is draining. */
export interface StopSignals {
  /** Resolves with the first signal's name. */
  readonly stopped: Promise<string>;
  /** Stops handling them (the signals' default action, death, applies again). */
  dispose(): void;
}

/**
 * Handles SIGTERM and SIGINT from now on: `stopped` resolves at the first, and the server drains.
 * Later ones are handled too, so that none kills the process mid-drain (a supervisor or an
 * impatient Ctrl-C often sends two): the second is logged and ignored; the third calls `force`,
 * which exits at once.
 */
export function watchStopSignals(io: CliIO, force: (signal: string) => void, source: SignalSource = process): StopSignals {
  let received = 0;
  let stop!: (signal: string) => void;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  const onSignal = (signal: string): void => {
    received++;
    if (received === 1) stop(signal);
    else if (received === 2) io.stderr(`[ignis] ${signal} again: still draining; a third stop signal exits at once\n`);
    else force(signal);
  };
  for (const s of STOP_SIGNALS) source.on(s, onSignal);
  return { stopped, dispose: () => STOP_SIGNALS.forEach((s) => source.off(s, onSignal)) };
}
