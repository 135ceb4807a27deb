import { describe, expect, it } from 'vitest';
import { progressBar, progressFor } from './progress.js';

describe('progress', () => {
  it('redraws one bar in place on a terminal and clears it at the end', () => {
    let out = '';
    const bar = progressBar('requests', { write: (text: string) => (out += text), columns: 60 });
    bar.update(1, 4);
    bar.update(2, 4); // within 100 ms of the last draw: skipped
    bar.update(4, 4); // the last one always draws
    bar.end();
    const draws = out.split('\r').filter(Boolean);
    expect(draws[0]).toMatch(/^requests \[#+-+\] 1\/4 25%$/);
    expect(draws[1]).toMatch(/^requests \[#+\] 4\/4 100%$/);
    expect(draws[2]).toBe('\x1b[2K');
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
