/** How a length (prompt or output tokens) is drawn: fixed, normal (rounded, at least 1) or uniform on [min, max]. */
export type LengthDistribution =
  | { readonly kind: 'fixed'; readonly value: number }
  | { readonly kind: 'normal'; readonly mean: number; readonly std: number }
  | { readonly kind: 'uniform'; readonly min: number; readonly max: number };

/** Draws one length from `d` with `random` (uniform on [0, 1)). */
export function drawLength(d: LengthDistribution, random: () => number): number {
  switch (d.kind) {
    case 'fixed':
      return d.value;
    case 'uniform':
      return d.min + Math.floor(random() * (d.max - d.min + 1));
    case 'normal': {
      // Box-Muller; 1 - u keeps the logarithm finite.
      const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      return Math.max(1, Math.round(d.mean + d.std * z));
    }
  }
}

/** `fixed 128`, `normal 128±16`, `uniform 64..192`: for reports. */
export function describeLength(d: LengthDistribution): string {
  return d.kind === 'fixed' ? `${d.value}` : d.kind === 'uniform' ? `uniform ${d.min}..${d.max}` : `normal ${d.mean}±${d.std}`;
}
