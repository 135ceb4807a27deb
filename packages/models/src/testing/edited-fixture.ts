import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsCheckpoint, type Tensor, writeSafetensors } from '@ignis/tensor';
import { type FixtureModel, fixturePath } from './index.js';

/** What to change in a copy of a fixture checkpoint. */
export interface FixtureEdits {
  /** Keys to set in config.json. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Files to write, by name. */
  readonly files?: Readonly<Record<string, string>>;
  /** Changes the tensors of a single-file checkpoint (model.safetensors), which is then rewritten. */
  readonly tensors?: (tensors: Record<string, Tensor>) => void;
}

/**
 * A copy of fixture `name` in a fresh temporary directory, with `edits` made: for tests of what a
 * load makes of a broken checkpoint. The caller removes the directory.
 */
export async function editedFixture(name: FixtureModel, edits: FixtureEdits): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `ignis-${name}-`));
  await cp(fixturePath(name), dir, { recursive: true });
  if (edits.config) {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, ...edits.config }));
  }
  for (const [file, text] of Object.entries(edits.files ?? {})) await writeFile(join(dir, file), text);
  if (edits.tensors) {
    const path = join(dir, 'model.safetensors');
    const source = await SafetensorsCheckpoint.open(path);
    const tensors: Record<string, Tensor> = {};
    for (const tensor of source.names()) tensors[tensor] = await source.read(tensor);
    await source.close();
    edits.tensors(tensors);
    await writeSafetensors(path, tensors);
  }
  return dir;
}
