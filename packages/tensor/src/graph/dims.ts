import type { Dim, Shape } from './types.js';

/** Sizes of the symbolic dimensions, by name. */
export type DimSizes = Readonly<Record<string, number>>;

const SYMBOLIC = /^([A-Za-z_][A-Za-z0-9_]*)(?:\+(\d+))?$/;

/**
 * Resolves a dimension to a number. A symbolic dimension is a name (`T`) or a name plus a
 * constant (`S+1`, for prefix-sum arrays such as query start offsets).
 */
export function evalDim(dim: Dim, sizes: DimSizes): number {
  if (typeof dim === 'number') return dim;
  const match = SYMBOLIC.exec(dim);
  if (!match) throw new SyntaxError(`bad symbolic dimension '${dim}' (expected NAME or NAME+K)`);
  const size = sizes[match[1]!];
  if (size === undefined) throw new RangeError(`symbolic dimension '${match[1]}' has no size`);
  return size + (match[2] ? Number(match[2]) : 0);
}

/** Number of elements of `shape` with symbolic dimensions resolved. */
export function evalNumel(shape: Shape, sizes: DimSizes): number {
  let n = 1;
  for (const d of shape) n *= evalDim(d, sizes);
  return n;
}

/** The symbol names a shape uses. */
export function symbolsOf(shape: Shape): string[] {
  const names: string[] = [];
  for (const d of shape) {
    if (typeof d === 'string') {
      const match = SYMBOLIC.exec(d);
      if (!match) throw new SyntaxError(`bad symbolic dimension '${d}' (expected NAME or NAME+K)`);
      names.push(match[1]!);
    }
  }
  return names;
}

/** A shape as text, e.g. `[T, 4096]`. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
