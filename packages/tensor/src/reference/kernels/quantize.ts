import { FP8_E4M3_MAX, f32ToFp8e4m3, fp8e4m3Table } from '../../fp8.js';

/**
 * Quantizes rows of `x` [rows, width] to e4m3 in groups of `group` columns (the whole row when
 * `group` >= width), as the CUDA kernels do: per group, s = max |x| / 448 in f32 (1 for a group of
 * zeros) unless `fixedScale` is given; code = e4m3(x / s), the division in f32, nearest-even,
 * saturating. Writes the codes' values (exact in f32) to `codes` and the scales to `scales`
 * ([rows, ceil(width / group)]).
 */
export function quantizeRowsFp8(
  x: Float32Array,
  rows: number,
  width: number,
  group: number,
  codes: Float32Array,
  scales: Float32Array,
  fixedScale?: number,
): void {
  const table = fp8e4m3Table();
  const groups = Math.ceil(width / group);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const from = r * width + g * group;
      const to = r * width + Math.min(width, (g + 1) * group);
      let scale = fixedScale;
      if (scale === undefined) {
        let max = 0;
        for (let i = from; i < to; i++) {
          const magnitude = Math.abs(x[i]!);
          if (magnitude > max) max = magnitude; // NaN is skipped, as CUDA's fmaxf skips it
        }
        scale = max === 0 ? 1 : Math.fround(max / FP8_E4M3_MAX);
      }
      scales[r * groups + g] = scale;
      for (let i = from; i < to; i++) codes[i] = table[f32ToFp8e4m3(Math.fround(x[i]! / scale))]!;
    }
  }
}
