import { type DType, type TypedArrayFor, allocateData, decodeToF32, dtypeBytes, encodeFromF32 } from './dtype.js';

/** A dense, row-major, host-resident tensor. */
export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayFor[D];

  constructor(dtype: D, shape: readonly number[], data: TypedArrayFor[D]) {
    const expected = numel(shape);
    if (data.length !== expected) {
      throw new RangeError(
        `Tensor: shape [${shape.join(', ')}] needs ${expected} elements of ${dtype}, data has ${data.length}`,
      );
    }
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
  }

  /** A zero-filled tensor. */
  static zeros<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    return new Tensor(dtype, shape, allocateData(dtype, numel(shape)));
  }

  /** A tensor of `dtype` holding `values` (rounded to nearest even for f16/bf16). */
  static fromValues<D extends DType>(dtype: D, shape: readonly number[], values: ArrayLike<number>): Tensor<D> {
    return new Tensor(dtype, shape, encodeFromF32(values, dtype));
  }

  /** Number of elements. */
  get numel(): number {
    return this.data.length;
  }

  /** Size of the data in bytes. */
  get byteLength(): number {
    return this.data.length * dtypeBytes(this.dtype);
  }

  /** The values as f32 (a copy, except that an f32 tensor returns its own data). */
  toF32(): Float32Array {
    return this.dtype === 'f32' ? (this.data as Float32Array) : decodeToF32(this.data, this.dtype);
  }

  /** The raw little-endian bytes (a view, no copy). */
  bytes(): Uint8Array {
    return new Uint8Array(this.data.buffer, this.data.byteOffset, this.byteLength);
  }
}

/** Product of the dimensions (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
