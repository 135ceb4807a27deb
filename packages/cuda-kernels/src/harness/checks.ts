import type { OutputCheck, StepResults } from './case.js';

/**
 * A case check: the fraction of elements of `output`, over all steps, equal to the reference's
 * (infinities included, NaN never equal) must reach `limit` (1: every element). For ops whose
 * result is exact (copies, conversions, one IEEE rounding per operation).
 */
export function elementsEqual(output: string, limit = 1): (actual: StepResults, expected: StepResults) => OutputCheck[] {
  return (actual, expected) => {
    let same = 0;
    let total = 0;
    expected.forEach((step, s) => {
      const want = step[output]!;
      const got = actual[s]![output]!;
      total += want.length;
      for (let i = 0; i < want.length; i++) if (got[i] === want[i]) same++;
    });
    const value = total === 0 ? 0 : same / total;
    return [{ output: `${output} (elements equal)`, metric: 'match', value, limit, pass: value >= limit }];
  };
}
