import { describe, expect, it } from 'vitest';
import { progressBar, progressFor } from './progress.js';

describe('progress', () => {
  it('redraws one bar in place on a terminal and clears it at the end', () => {
    let out = '';
    let now = 0;
    const bar = progressBar('requests', { write: (text: string) => (out += text), columns: 60 }, () => now);
    bar.update(1, 5);
    now = 99;
    bar.update(2, 5); // within 100 ms of the last draw: skipped
    now = 100;
    bar.update(3, 5);
    bar.update(5, 5); // the last one always draws
    bar.end();
    const draws = out.split('\r').filter(Boolean);
    expect(draws[0]).toMatch(/^requests \[#+-+\] 1\/5 20%$/);
    expect(draws[1]).toMatch(/^requests \[#+-+\] 3\/5 60%$/);
    expect(draws[2]).toMatch(/^requests \[#+\] 5\/5 100%$/);
    expect(draws[3]).toBe('\x1b[2K');
    expect(draws).toHaveLength(4);
  });

  it('draws nothing off a terminal', () => {
    let out = '';
    const stream = { isTTY: false, write: (text: string) => ((out += text), true) } as unknown as NodeJS.WriteStream;
    const bar = progressFor('requests', stream);
    bar.update(1, 1);
    bar.end();
    expect(out).toBe('');
  });
});
