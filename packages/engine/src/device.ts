import { type Backend, ReferenceBackend } from '@ignis/tensor';

/** Where a model runs: `cpu` (the reference backend), `cuda`, or `auto` (the GPU when there is one). */
export type Device = 'auto' | 'cpu' | 'cuda';

/** The requested device cannot be used here; the message says why and what to do. */
export class DeviceUnavailableError extends Error {
  override name = 'DeviceUnavailableError';
}

/** True if `value` names a device. */
export function isDevice(value: unknown): value is Device {
  return value === 'auto' || value === 'cpu' || value === 'cuda';
}

/** The backend for `device`, and the device it resolved to. */
export function selectBackend(device: Device): { backend: Backend; device: 'cpu' | 'cuda' } {
  switch (device) {
    case 'cpu':
    case 'auto':
      return { backend: new ReferenceBackend(), device: 'cpu' };
    case 'cuda':
      throw new DeviceUnavailableError(
        'device cuda is not available: this build has no CUDA backend yet (it arrives with @ignis/cuda-kernels); use --device cpu',
      );
  }
}
