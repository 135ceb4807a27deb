import { type Progress, progressFor, silentProgress } from './progress.js';

/** Where the CLI writes: process streams in production, buffers in tests. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** A progress bar for long runs (a no-op off a terminal). */
  progress(label: string): Progress;
}

export const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  progress: (label) => progressFor(label),
};

/** Collects output, for tests. */
export function bufferIO(): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
    progress: () => silentProgress,
  };
  return io;
}
