import { describe, expect, it } from 'vitest';
import type { Value } from '../graph/types.js';
import type { WeightFormat } from '../graph/weight-format.js';
import { InMemoryWeights } from '../in-memory-weights.js';
import { Tensor } from '../tensor.js';
import { assembleCompanion, assembleWeight, weightProblems } from './assemble.js';

/** A source tensor whose element (r, c) is 100 r + c, so that every copied element says where it came from. */
const numbered = (rows: number, cols: number): Tensor => Tensor.fromValues('f32', [rows, cols], Array.from({ length: rows * cols }, (_, i) => 100 * Math.floor(i / cols) + (i % cols)));

const weight = (value: Partial<Value> & Pick<Value, 'shape'>): Value => ({ id: 0, name: 'w', kind: 'weight', dtype: 'f32', ...value });

describe('assembleWeight', () => {
  it('places row and column regions of several tensors, as tensor-parallel shards and fused weights need', async () => {
    const source = InMemoryWeights.of({ a: numbered(4, 6), b: numbered(2, 3) });
    const value = weight({
      shape: [4, 5],
      slices: [
        { name: 'a', shape: [4, 6], rows: [1, 3], cols: [2, 5], at: [0, 0] }, // a column and row shard
        { name: 'b', shape: [2, 3], at: [2, 2] }, // a whole tensor below-right of it
      ],
    });
    const out = new Float32Array(20).fill(-1);
    await assembleWeight(value, (name) => source.read(name), out);
    expect([...out]).toStrictEqual([
      102, 103, 104, -1, -1,
      202, 203, 204, -1, -1,
      -1, -1, 0, 1, 2,
      -1, -1, 100, 101, 102,
    ]); // prettier-ignore
  });
});

describe('assembleCompanion', () => {
  const channel: WeightFormat = { scale: { kind: 'channel' }, activation: 'fp8-static' };
  const block: WeightFormat = { scale: { kind: 'block', rows: 2, cols: 2 }, activation: 'fp8-token-group' };
  const tensors = {
    'q.weight_scale': Tensor.fromValues('f32', [2], [1, 2]),
    'k.weight_scale': Tensor.fromValues('f32', [3], [3, 4, 5]),
    'q.input_scale': Tensor.fromValues('f32', [1], [0.5]),
    'k.input_scale': Tensor.fromValues('f32', [1], [0.75]),
    'big.weight_scale': numbered(3, 3), // a 5 x 6 weight in 2 x 2 blocks: 3 x 3 scales
  };
  const source = InMemoryWeights.of(tensors);
  const read = (name: string): Promise<Tensor> => source.read(name);

  it('stacks channel scales with the rows and takes the largest input scale of fused parts', async () => {
    const fused = weight({ shape: [5, 4], format: channel, slices: [{ name: 'q.weight', shape: [2, 4], at: [0, 0] }, { name: 'k.weight', shape: [3, 4], at: [2, 0] }] });
    expect([...(await assembleCompanion(fused, 'weight_scale', read))]).toStrictEqual([1, 2, 3, 4, 5]);
    expect([...(await assembleCompanion(fused, 'input_scale', read))]).toStrictEqual([0.75]);
  });

  it('cuts block scales along block edges, and refuses a slice that splits a block', async () => {
    const shard = weight({ shape: [3, 4], format: block, slices: [{ name: 'big.weight', shape: [5, 6], rows: [2, 5], cols: [2, 6], at: [0, 0] }] });
    expect([...(await assembleCompanion(shard, 'weight_scale', read))]).toStrictEqual([101, 102, 201, 202]);
    const split = weight({ shape: [3, 3], format: block, slices: [{ name: 'big.weight', shape: [5, 6], rows: [2, 5], cols: [1, 4], at: [0, 0] }] });
    await expect(assembleCompanion(split, 'weight_scale', read)).rejects.toThrow(/column 1 is not on a 2-wide scale tile edge/);
  });
});

describe('weightProblems', () => {
  it('lists every missing or misshapen tensor and scale at once', () => {
    const values: Value[] = [
      weight({ name: 'a.weight', shape: [2, 4], dtype: 'fp8e4m3', format: { scale: { kind: 'channel' }, activation: 'fp8-token' } }),
      weight({ name: 'b.weight', shape: [2, 4] }),
      weight({ name: 'c.weight', shape: [2, 4], dtype: 'fp8e4m3', format: { scale: { kind: 'channel' }, activation: 'fp8-token', quantizeFrom: 'bf16' } }),
    ];
    const source = InMemoryWeights.of({
      'a.weight': Tensor.zeros('fp8e4m3', [2, 4]),
      'a.weight_scale': Tensor.zeros('f32', [1]),
      'b.weight': Tensor.zeros('fp8e4m3', [2, 4]),
      'c.weight': Tensor.zeros('bf16', [2, 4]),
    });
    expect(weightProblems(values, source)).toStrictEqual([
      'tensor a.weight_scale has shape [1], expected [2]',
      'tensor b.weight has dtype fp8e4m3, expected f32 or f16 or bf16',
    ]);
  });
});
