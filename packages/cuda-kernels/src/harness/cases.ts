import { ATTENTION_CASES } from '../../kernels/attention/attention.cases.js';
import { CONVERT_CASES } from '../../kernels/convert/convert.cases.js';
import { ELEMENTWISE_CASES } from '../../kernels/elementwise/elementwise.cases.js';
import { EMBEDDING_CASES } from '../../kernels/embedding/embedding.cases.js';
import { GATHER_CASES } from '../../kernels/gather/gather.cases.js';
import { GEMM_CASES } from '../../kernels/gemm/gemm.cases.js';
import { KV_WRITE_CASES } from '../../kernels/kv_write/kv_write.cases.js';
import { QUANTIZE_CASES } from '../../kernels/quantize/quantize.cases.js';
import { PENALTIES_CASES } from '../../kernels/penalties/penalties.cases.js';
import { RMSNORM_CASES } from '../../kernels/rmsnorm/rmsnorm.cases.js';
import { ROPE_CASES } from '../../kernels/rope/rope.cases.js';
import { SAMPLING_CASES } from '../../kernels/sampling/sampling.cases.js';
import { TOP_LOGPROBS_CASES } from '../../kernels/top_logprobs/top_logprobs.cases.js';
import type { OpCase } from './case.js';

/** Every kernel's cases, from each kernel folder. */
export const ALL_CASES: readonly OpCase[] = [
  ...EMBEDDING_CASES,
  ...RMSNORM_CASES,
  ...ROPE_CASES,
  ...ELEMENTWISE_CASES,
  ...GATHER_CASES,
  ...GEMM_CASES,
  ...QUANTIZE_CASES,
  ...ATTENTION_CASES,
  ...KV_WRITE_CASES,
  ...SAMPLING_CASES,
  ...PENALTIES_CASES,
  ...TOP_LOGPROBS_CASES,
  ...CONVERT_CASES,
];
