import { CudaBackend, probeCuda } from '@ignis/cuda-kernels';
import { type Backend, type DType, ReferenceBackend } from '@ignis/tensor';
import { InvalidParameterError } from './errors.js';

/** Where a model runs: `cpu` (the reference backend), `cuda`, or `auto` (the GPU when there is one). */
export type Device = 'auto' | 'cpu' | 'cuda';

/** Activation precision: `auto` (bf16 on the GPU, f32 on the CPU), or forced. */
export type Precision = 'auto' | 'float32' | 'bfloat16';

/** True if `value` names a device. */
export function isDevice(value: unknown): value is Device {
  return value === 'auto' || value === 'cpu' || value === 'cuda';
}

/** The backend and activation dtype chosen for a device and precision. */
export interface Placement {
  readonly backend: Backend;
  readonly device: 'cpu' | 'cuda';
  readonly dtype: DType;
}

/**
 * Picks the backend: `cuda` insists on the GPU (an error lists every reason it cannot be used),
 * `auto` takes it when the addon loads and a usable GPU is there, `cpu` is the reference backend.
 */
export function selectBackend(device: Device, precision: Precision = 'auto'): Placement {
  const useCuda = device === 'cuda' || (device === 'auto' && probeCuda().available);
  if (useCuda) {
    const backend = new CudaBackend(); // throws CudaUnavailableError with the reasons
    return { backend, device: 'cuda', dtype: precision === 'float32' ? 'f32' : 'bf16' };
  }
  if (precision === 'bfloat16') {
    throw new InvalidParameterError('dtype', 'dtype bfloat16 needs the CUDA backend; the CPU reference backend computes in float32');
  }
  return { backend: new ReferenceBackend(), device: 'cpu', dtype: 'f32' };
}
