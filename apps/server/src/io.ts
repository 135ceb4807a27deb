/** Where the CLI writes: process streams in production, buffers in tests. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The process's own streams. */
export const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};
