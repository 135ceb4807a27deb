import type { WeightSource } from '../backend.js';
import type { DType } from '../dtype.js';
import { formatShape } from '../graph/dims.js';
import type { Value, WeightSlice } from '../graph/types.js';
import { type CompanionRole, companionName, weightCompanions } from '../graph/weight-format.js';
import type { Tensor } from '../tensor.js';

/** A slice with every default filled in. */
export interface ResolvedSlice {
  readonly name: string;
  readonly shape: readonly number[];
  readonly rows: readonly [number, number];
  readonly cols: readonly [number, number];
  readonly at: readonly [number, number];
}

/** The regions a weight is assembled from: its slices, or the checkpoint tensor of its name, whole. */
export function weightSlices(value: Value): ResolvedSlice[] {
  const shape = value.shape as number[];
  const slices: readonly WeightSlice[] = value.slices ?? [{ name: value.name, shape, at: [0, 0] }];
  return slices.map((s) => ({
    name: s.name,
    shape: s.shape,
    rows: s.rows ?? [0, s.shape[0]!],
    cols: s.cols ?? [0, s.shape[1] ?? 1],
    at: s.at,
  }));
}

/** Width of a weight's rows (1 for a 1-D weight). */
function rowWidth(shape: readonly number[]): number {
  return shape.length === 2 ? shape[1]! : 1;
}

/**
 * Copies each slice's region of its source tensor, decoded to f32, into `out` (row-major, the
 * weight's shape). The values are the stored ones: codes of a quantized weight, not scaled.
 */
export async function assembleWeight(value: Value, read: (name: string) => Promise<Tensor>, out: Float32Array): Promise<void> {
  const width = rowWidth(value.shape as number[]);
  for (const slice of weightSlices(value)) {
    const source = (await read(slice.name)).toF32();
    const sourceWidth = rowWidth(slice.shape);
    const [r0, r1] = slice.rows;
    const [c0, c1] = slice.cols;
    for (let r = r0; r < r1; r++) {
      const from = r * sourceWidth + c0;
      out.set(source.subarray(from, from + (c1 - c0)), (slice.at[0] + r - r0) * width + slice.at[1]);
    }
  }
}

/**
 * A companion of a quantized weight, assembled from its slices' companions (read as f32 under
 * {@link companionName}): channel scales follow the slices' rows; block and group scales follow
 * their rows and columns, whose bounds must fall on tile edges; the input scale of a weight made
 * of several tensors is the largest of theirs (each part's inputs then stay in range, as vLLM does).
 */
export async function assembleCompanion(value: Value, role: CompanionRole, read: (name: string) => Promise<Tensor>): Promise<Float32Array> {
  const companion = weightCompanions(value).find((c) => c.role === role);
  if (!companion) throw new TypeError(`weight ${value.name} has no ${role}`);
  const out = new Float32Array(companion.shape.reduce((a, b) => a * b, 1));
  if (role === 'input_scale') {
    const scales = await Promise.all(weightSlices(value).map(async (s) => (await read(companionName(s.name, role))).toF32()[0]!));
    out[0] = Math.max(...scales);
    return out;
  }
  const scale = value.format!.scale;
  const [tileRows, tileCols] = scale.kind === 'channel' ? [1, Infinity] : scale.kind === 'block' ? [scale.rows, scale.cols] : [1, scale.size];
  const width = companion.shape[1] ?? 1;
  for (const slice of weightSlices(value)) {
    const source = (await read(companionName(slice.name, role))).toF32();
    const sourceWidth = scale.kind === 'channel' ? 1 : Math.ceil(rowWidth(slice.shape) / tileCols);
    const tile = (index: number, size: number, end: number, what: string): number => {
      if (index % size !== 0 && index !== end) throw new RangeError(`weight ${value.name}: slice of ${slice.name} ${what} ${index} is not on a ${size}-wide scale tile edge`);
      return Math.ceil(index / size);
    };
    const [r0, r1] = [tile(slice.rows[0], tileRows, slice.shape[0]!, 'row'), tile(slice.rows[1], tileRows, slice.shape[0]!, 'row')];
    const [c0, c1] = scale.kind === 'channel' ? [0, 1] : [tile(slice.cols[0], tileCols, slice.shape[1]!, 'column'), tile(slice.cols[1], tileCols, slice.shape[1]!, 'column')];
    const atRow = tile(slice.at[0], tileRows, Infinity, 'target row');
    const atCol = scale.kind === 'channel' ? 0 : tile(slice.at[1], tileCols, Infinity, 'target column');
    for (let r = r0; r < r1; r++) {
      out.set(source.subarray(r * sourceWidth + c0, r * sourceWidth + c1), (atRow + r - r0) * width + atCol);
    }
  }
  return out;
}

/** The dtypes a weight's source tensors may have: its own when stored quantized, a float one otherwise. */
function acceptedSourceDtypes(value: Value): readonly DType[] {
  if (value.format && !value.format.quantizeFrom) return [value.dtype];
  return ['f32', 'f16', 'bf16'];
}

/**
 * Every way `weights` fails to hold what the weight values of a graph are assembled from (missing
 * tensors, wrong shapes or dtypes, missing or misshapen scales), one line each; [] when it holds
 * them all. Run before loading so that a malformed checkpoint gets one error listing it all.
 */
export function weightProblems(values: readonly Value[], weights: WeightSource): string[] {
  const problems: string[] = [];
  const expect = (name: string, shape: readonly number[], dtypes: readonly DType[]): void => {
    const found = weights.info(name);
    if (!found) problems.push(`missing tensor ${name} (expected ${dtypes.join(' or ')} ${formatShape(shape)})`);
    else if (formatShape(found.shape) !== formatShape(shape)) problems.push(`tensor ${name} has shape ${formatShape(found.shape)}, expected ${formatShape(shape)}`);
    else if (!dtypes.includes(found.dtype)) problems.push(`tensor ${name} has dtype ${found.dtype}, expected ${dtypes.join(' or ')}`);
  };
  for (const value of values) {
    if (value.kind !== 'weight') continue;
    for (const slice of weightSlices(value)) {
      expect(slice.name, slice.shape, acceptedSourceDtypes(value));
      if (!value.format || value.format.quantizeFrom) continue;
      for (const companion of weightCompanions({ shape: slice.shape, format: value.format })) {
        expect(companionName(slice.name, companion.role), companion.shape, ['f32']);
      }
    }
  }
  return problems;
}
