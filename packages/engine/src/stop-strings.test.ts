import { describe, expect, it } from 'vitest';
import { StopStrings } from './stop-strings.js';

describe('StopStrings', () => {
  it('finds the earliest stop string, also one that straddles old and new text', () => {
    const stops = new StopStrings(['END', 'xy']);
    expect(stops.scan('abcEN', 0)).toEqual({ stopAt: undefined, safeLength: 3 }); // "EN" may become "END"
    expect(stops.scan('abcEND and xy', 5)).toEqual({ stopAt: 3, safeLength: 3 });
    expect(stops.scan('a xy b END', 0)).toEqual({ stopAt: 2, safeLength: 2 });
  });

  it('holds back only a tail that can still begin a stop string', () => {
    const stops = new StopStrings(['</answer>']);
    expect(stops.scan('the answer is 4 </ans', 0).safeLength).toBe(16);
    expect(stops.scan('the answer is 4 <b', 0).safeLength).toBe(18);
  });

  it('without stop strings everything is safe', () => {
    expect(new StopStrings([]).scan('anything', 0)).toEqual({ stopAt: undefined, safeLength: 8 });
  });
});
