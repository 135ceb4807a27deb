import { OutOfGpuMemoryError, OutOfHostMemoryError } from './errors.js';

/** What loading a model will allocate on its device, by use (bytes). */
export interface MemoryNeeds {
  /** As the backend stores them (the reference backend upcasts to f32). */
  readonly weights: number;
  readonly kvCache: number;
  /** The largest step's activations and inputs (the plan's arena). */
  readonly activations: number;
  /** Kept free besides: on the GPU, cuBLASLt workspace, kernel scratch, the CUDA context's own. */
  readonly headroom: number;
}

/** Bytes as GiB with one decimal, for messages. */
export const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/**
 * Throws unless `needs` fit in the `available` bytes of `device` (the GPU's free memory, or the
 * memory this process can still take on the machine): an {@link OutOfGpuMemoryError} or
 * {@link OutOfHostMemoryError} whose message gives every size. Run before any of it is allocated,
 * so that a model too large fails at once with the numbers, not in an allocation (or the kernel's
 * out-of-memory killer) part way through loading.
 */
export function checkMemoryFits(device: 'cpu' | 'cuda', needs: MemoryNeeds, available: number): void {
  const total = needs.weights + needs.kvCache + needs.activations + needs.headroom;
  if (total <= available) return;
  const parts =
    `the weights take ${gib(needs.weights)}${device === 'cpu' ? ' (as f32: the CPU backend computes in f32)' : ''}, ` +
    `the KV cache ${gib(needs.kvCache)} and the activations ${gib(needs.activations)}` +
    (needs.headroom > 0 ? `, plus ${gib(needs.headroom)} of headroom` : '');
  if (device === 'cuda') {
    throw new OutOfGpuMemoryError(`not enough GPU memory: ${parts}, ${gib(total)} in all, and ${gib(available)} are free`);
  }
  throw new OutOfHostMemoryError(
    `not enough memory to run on the CPU: ${parts}, ${gib(total)} in all, and ${gib(available)} are available; ` +
      'use a smaller model, a smaller kvCacheBytes or maxModelLen, or a GPU',
  );
}

/** Memory this process can still take: what the OS calls available, within the process's cgroup limit. */
export function availableHostMemory(): number {
  return process.availableMemory();
}
