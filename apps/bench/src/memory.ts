import { CudaBackend } from '@ignis/cuda-kernels';

/** Memory a run took. */
export interface MemoryReport {
  /** The process's peak resident set (host memory). */
  readonly hostPeakBytes: number;
  /** GPU memory taken between the probe's start and `read()` (the engine allocates weights, KV pool and step arena at load, so this is its peak). */
  readonly deviceUsedBytes: number | null;
  readonly deviceTotalBytes: number | null;
}

/** Notes free GPU memory now (before a model loads); `read()` reports what was taken since, and the host peak. */
export function memoryProbe(device: 'cpu' | 'cuda' | 'auto'): { read(): MemoryReport } {
  let gpu: CudaBackend | undefined;
  try {
    gpu = device === 'cpu' ? undefined : new CudaBackend();
  } catch {
    gpu = undefined; // no GPU: host memory only
  }
  const before = gpu?.memoryInfo();
  return {
    read: () => {
      const after = gpu?.memoryInfo();
      return {
        hostPeakBytes: process.resourceUsage().maxRSS * 1024,
        deviceUsedBytes: before && after ? before.free - after.free : null,
        deviceTotalBytes: after?.total ?? null,
      };
    },
  };
}
