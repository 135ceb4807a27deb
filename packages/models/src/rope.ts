import type { RopeSpec } from './spec.js';

const f32 = Math.fround;

/**
 * Rotary inverse frequencies, one per rotating channel pair, computed step by step in f32
 * exactly as Hugging Face transformers computes them (each tensor op rounds to f32), so that
 * angles at large positions match the reference too.
 */
export function ropeInverseFrequencies(rope: RopeSpec, headDim: number): number[] {
  const dim = Math.floor(headDim * rope.partialRotaryFactor);
  const base = f32(rope.theta);
  const inv: number[] = [];
  for (let i = 0; i < dim; i += 2) inv.push(f32(1 / f32(Math.pow(base, f32(i / dim)))));
  switch (rope.type) {
    case 'default':
      return inv;
    case 'linear':
      return inv.map((x) => f32(x / f32(rope.factor!)));
    case 'llama3':
      return inv.map((x) => llama3Frequency(x, rope));
  }
}

/**
 * Llama 3.1 scaling: long wavelengths (low frequencies) are divided by `factor`, short ones
 * kept, and the band between blended smoothly.
 */
function llama3Frequency(inv: number, rope: RopeSpec): number {
  const factor = f32(rope.factor!);
  const low = rope.lowFreqFactor!;
  const high = rope.highFreqFactor!;
  const context = rope.originalMaxPositionEmbeddings!;
  const lowFreqWavelen = f32(context / low);
  const highFreqWavelen = f32(context / high);
  const wavelen = f32(f32(2 * Math.PI) / inv);
  const scaled = wavelen > lowFreqWavelen ? f32(inv / factor) : inv;
  const isMedium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
  if (!isMedium) return scaled;
  const smooth = f32(f32(f32(f32(context) / wavelen) - f32(low)) / f32(high - low));
  return f32(f32(f32(f32(1 - smooth) * scaled) / factor) + f32(smooth * scaled));
}
