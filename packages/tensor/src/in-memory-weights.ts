import type { WeightSource } from './backend.js';
import type { DType } from './dtype.js';
import type { Tensor } from './tensor.js';

/** Weights held in memory, by name. */
export class InMemoryWeights implements WeightSource {
  constructor(private readonly tensors: ReadonlyMap<string, Tensor>) {}

  static of(record: Record<string, Tensor>): InMemoryWeights {
    return new InMemoryWeights(new Map(Object.entries(record)));
  }

  info(name: string): { dtype: DType; shape: readonly number[] } | undefined {
    const t = this.tensors.get(name);
    return t && { dtype: t.dtype, shape: t.shape };
  }

  read(name: string): Promise<Tensor> {
    const t = this.tensors.get(name);
    return t ? Promise.resolve(t) : Promise.reject(new Error(`no weight ${name}`));
  }
}
