import { readFile, writeFile } from 'node:fs/promises';

/** One benchmark request: a prompt (token ids, or text for the model's tokenizer) and how many tokens to generate. */
export interface DatasetRequest {
  readonly id: number;
  readonly prompt: string | readonly number[];
  /** Prompt tokens: the ids' count, or the text's as the tokenizer that made the dataset counted them (special tokens included). */
  readonly inputLen: number;
  readonly outputLen: number;
}

/**
 * One JSONL line, in trtllm-bench's dataset format so that datasets move between the two:
 * `{"task_id": 0, "input_ids": [...], "output_tokens": 128}` or, for text,
 * `{"task_id": 0, "prompt": "...", "input_len": 37, "output_tokens": 128}`.
 */
interface DatasetLine {
  task_id: number;
  input_ids?: number[];
  prompt?: string;
  input_len?: number;
  output_tokens: number;
}

export function toJsonl(requests: readonly DatasetRequest[]): string {
  return requests
    .map((r) => {
      const line: DatasetLine =
        typeof r.prompt === 'string'
          ? { task_id: r.id, prompt: r.prompt, input_len: r.inputLen, output_tokens: r.outputLen }
          : { task_id: r.id, input_ids: [...r.prompt], output_tokens: r.outputLen };
      return `${JSON.stringify(line)}\n`;
    })
    .join('');
}

export function parseJsonl(text: string, source: string): DatasetRequest[] {
  const requests: DatasetRequest[] = [];
  text.split('\n').forEach((raw, index) => {
    if (raw.trim() === '') return;
    const where = `${source}:${index + 1}`;
    let line: Partial<DatasetLine>;
    try {
      line = JSON.parse(raw) as Partial<DatasetLine>;
    } catch (error) {
      throw new Error(`${where}: not JSON (${(error as Error).message})`);
    }
    const outputLen = line.output_tokens;
    if (!Number.isSafeInteger(outputLen) || outputLen! < 1) throw new Error(`${where}: output_tokens must be a positive integer`);
    const id = Number.isSafeInteger(line.task_id) ? line.task_id! : requests.length;
    if (Array.isArray(line.input_ids)) {
      if (line.input_ids.length === 0 || !line.input_ids.every((t) => Number.isSafeInteger(t) && t >= 0)) {
        throw new Error(`${where}: input_ids must be a non-empty list of token ids`);
      }
      requests.push({ id, prompt: line.input_ids, inputLen: line.input_ids.length, outputLen: outputLen! });
    } else if (typeof line.prompt === 'string' && line.prompt !== '') {
      requests.push({ id, prompt: line.prompt, inputLen: Number.isSafeInteger(line.input_len) ? line.input_len! : 0, outputLen: outputLen! });
    } else {
      throw new Error(`${where}: needs input_ids or a non-empty prompt`);
    }
  });
  if (requests.length === 0) throw new Error(`${source}: no requests`);
  return requests;
}

export async function readDataset(path: string): Promise<DatasetRequest[]> {
  return parseJsonl(await readFile(path, 'utf8'), path);
}

export async function writeDataset(path: string, requests: readonly DatasetRequest[]): Promise<void> {
  await writeFile(path, toJsonl(requests));
}
