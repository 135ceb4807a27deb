import { ceilingsFor } from '@ignis/cuda-kernels';

/** HBM bandwidth from NVIDIA's datasheets (GB/s), for GPUs we know. */
const DATASHEET: readonly { readonly match: RegExp; readonly name: string; readonly peakGBs: number }[] = [
  { match: /H200/i, name: 'H200', peakGBs: 4800 },
  { match: /H100.*(SXM|HBM3)/i, name: 'H100 SXM', peakGBs: 3350 },
  { match: /H100.*PCIe/i, name: 'H100 PCIe', peakGBs: 2000 },
  { match: /A100.*80/i, name: 'A100 80GB', peakGBs: 2039 },
];

/** The memory bandwidth a decode step is measured against. */
export interface BandwidthCeiling {
  /** The ceiling fractions are taken of: the `--bandwidth-gbs` flag, else the datasheet peak; null for a GPU we don't know. */
  readonly ceilingGBs: number | null;
  readonly ceilingSource: string;
  /** The copy bandwidth (read + write) measured on our GPUs (../shared/GPU.md), which a real kernel can reach; null elsewhere. */
  readonly measuredCopyGBs: number | null;
}

export function bandwidthCeiling(deviceName: string | undefined, flagGBs?: number): BandwidthCeiling {
  const sheet = deviceName ? DATASHEET.find((g) => g.match.test(deviceName)) : undefined;
  const measured = deviceName ? ceilingsFor(deviceName) : undefined;
  return {
    ceilingGBs: flagGBs ?? sheet?.peakGBs ?? null,
    ceilingSource: flagGBs ? '--bandwidth-gbs' : sheet ? `${sheet.name} datasheet` : deviceName ? `unknown GPU ${deviceName}: pass --bandwidth-gbs` : 'no GPU',
    measuredCopyGBs: measured?.known ? measured.bandwidthGBs : null,
  };
}
