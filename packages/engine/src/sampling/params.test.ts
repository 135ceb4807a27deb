import { describe, expect, it } from 'vitest';
import { InvalidParameterError } from '../errors.js';
import { MAX_FLOAT32, MIN_REPETITION_PENALTY, MIN_TEMPERATURE, resolveSamplingParams } from './params.js';

/** The error resolveSamplingParams throws for `given`, or undefined. */
function errorOf(given: Parameters<typeof resolveSamplingParams>[0]): InvalidParameterError | undefined {
  try {
    resolveSamplingParams(given);
    return undefined;
  } catch (error) {
    if (error instanceof InvalidParameterError) return error;
    throw error;
  }
}

describe('sampling parameters at the ends of float32', () => {
  it('the limits are the float32 ones', () => {
    expect(MAX_FLOAT32).toBe(Math.fround(MAX_FLOAT32));
    expect(Math.fround(MAX_FLOAT32 * (1 + 2 ** -24))).toBe(Infinity); // one more ulp is past float32
    expect(MIN_TEMPERATURE).toBe(1.1754943508222875e-38);
    expect(MIN_REPETITION_PENALTY).toBe(MIN_TEMPERATURE);
  });

  it('raises a temperature below the smallest normal float32 to it, and keeps 0 (greedy) and normal ones', () => {
    for (const tiny of [1e-40, Number.MIN_VALUE, 1e-300]) expect(resolveSamplingParams({ temperature: tiny }).temperature).toBe(MIN_TEMPERATURE);
    for (const t of [0, MIN_TEMPERATURE, 1e-3, 0.7, 2, 1e30, MAX_FLOAT32]) expect(resolveSamplingParams({ temperature: t }).temperature).toBe(t);
  });

  it('rejects a temperature float32 cannot hold, naming the field and the limit', () => {
    const error = errorOf({ temperature: 1e300 });
    expect(error?.param).toBe('temperature');
    expect(error?.message).toBe('temperature must be in [0, 3.4028234663852886e+38], got 1e+300');
    expect(errorOf({ temperature: -0.5 })?.message).toBe('temperature must be in [0, 3.4028234663852886e+38], got -0.5');
  });

  it('rejects repetition penalties outside the positive normal float32 values, naming the field and the limits', () => {
    for (const bad of [1e-40, 0, -1, 1e39]) {
      const error = errorOf({ repetitionPenalty: bad });
      expect(error?.param).toBe('repetitionPenalty');
      expect(error?.message).toBe(
        `repetitionPenalty must be in [1.1754943508222875e-38, 3.4028234663852886e+38] (the positive normal float32 values), got ${bad}`,
      );
    }
    for (const good of [MIN_REPETITION_PENALTY, 1e-3, 1, 1.3, MAX_FLOAT32]) expect(resolveSamplingParams({ repetitionPenalty: good }).repetitionPenalty).toBe(good);
  });
});
