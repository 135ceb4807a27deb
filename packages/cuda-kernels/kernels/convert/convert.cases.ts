import type { DType, SyntheticFill } from '@ignis/tensor';
import type { OpCase, WeightSupply } from '../../src/harness/case.js';
import { elementsEqual } from '../../src/harness/checks.js';

const FLT_MAX = 3.4028234663852886e38;
const F16_MAX = 65504;

/** f32 values from their bit patterns. */
const fromBits = (bits: readonly number[]): number[] => Array.from(new Float32Array(Uint32Array.from(bits).buffer));

/**
 * Values where a conversion goes wrong first: exact round-to-nearest-even ties of bf16 (low half
 * 0x8000, odd and even), just above and below them, f32 and f16 subnormals, the largest f16, f32
 * values that round past the largest bf16 to infinity, infinities, signed zeros.
 */
const EDGES = [
  ...fromBits([0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff, 0xbf818000, 0x00008000, 0x00018000, 0x80000001, 0x7f7f8000, 0x7f7f7fff]),
  FLT_MAX, -FLT_MAX, F16_MAX, -F16_MAX, 2 ** -14, 2 ** -24, 3 * 2 ** -24, Infinity, -Infinity, 0, -0, 1, -1,
];

/**
 * A weight table read back whole through `embedding` (out[t] = table[ids[t]], a copy in the
 * activation dtype): the output is what the backend loaded, compared element for element with
 * the given values converted on the host (round to nearest even). `supply` says how the backend
 * gets the table: in another dtype (it converts at load, from memory or from a file) or as a
 * synthetic fill it makes itself (kernels/convert either way).
 */
function convertCase(name: string, supply: WeightSupply, edges: readonly number[], exact = true): OpCase {
  const vocab = 256;
  const width = 96;
  return {
    kernel: 'convert',
    name: `convert ${name}`,
    build: (b, dtype) => b.output('out', b.embedding('out', b.input('ids', 'i32', ['T']), b.weight('table', dtype, [vocab, width]), dtype)),
    maxDims: { T: vocab },
    weights: (random) => {
      // Normal values over many binades, then the edge values.
      const table = Float32Array.from({ length: vocab * width }, () => (random() * 2 - 1) * 2 ** Math.floor(random() * 40 - 24));
      table.set(edges);
      return { table };
    },
    supply: { table: supply },
    steps: () => [{ dims: { T: vocab }, inputs: { ids: Int32Array.from({ length: vocab }, (_, i) => vocab - 1 - i) } }],
    tolerance: { f32: 0, bf16: 0 },
    // A synthetic fill rounds offset + scale * u once on the device (fused) and twice on the host
    // (f64, then f32): they may differ on an element in 2^29, so allow one in a thousand.
    check: elementsEqual('out', exact ? 1 : 0.999),
  };
}

const given = (dtype: DType, file = false): WeightSupply => ({ dtype, file });
const fill: SyntheticFill = { seed: 0x9e3779b9, scale: 0.75, offset: 0.125 };
const F16_EDGES = EDGES.filter((x) => Math.abs(x) <= F16_MAX || !Number.isFinite(x));

export const CONVERT_CASES: OpCase[] = [
  convertCase('f16 weights from memory (subnormals, largest f16, infinities)', given('f16'), F16_EDGES),
  convertCase('f32 weights from a safetensors file (bf16 ties, overflow to infinity)', given('f32', true), EDGES),
  convertCase('f16 weights from a safetensors file', given('f16', true), F16_EDGES),
  convertCase('bf16 weights from memory', given('bf16'), EDGES),
  convertCase('synthetic fill on the device against syntheticValue', { synthetic: fill }, [], false),
];
