import os from 'node:os';
import { fileError } from './errors.js';

/**
 * Safetensors data is little-endian and tensors are viewed in place as typed arrays, which use the
 * host's byte order: on a big-endian host every value would silently come out byte-swapped.
 */
export function assertLittleEndianHost(file: string): void {
  if (os.endianness() !== 'LE') {
    throw fileError(file, 'safetensors data is little-endian and this host is big-endian, which is not supported');
  }
}
