import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { watchStopSignals } from './stop-signals.js';

describe('stop signals', () => {
  it('the first stops, the second is logged and ignored, the third forces; dispose lets them go', async () => {
    const source = new EventEmitter();
    let stderr = '';
    const forced: string[] = [];
    const signals = watchStopSignals({ stdout: () => undefined, stderr: (text) => (stderr += text) }, (signal) => forced.push(signal), source);
    source.emit('SIGTERM', 'SIGTERM');
    expect(await signals.stopped).toBe('SIGTERM');
    expect({ stderr, forced }).toEqual({ stderr: '', forced: [] });
    source.emit('SIGINT', 'SIGINT');
    expect({ stderr, forced }).toEqual({ stderr: '[ignis] SIGINT again: still draining; a third stop signal exits at once\n', forced: [] });
    source.emit('SIGTERM', 'SIGTERM');
    expect(forced).toEqual(['SIGTERM']);
    signals.dispose();
    expect([source.listenerCount('SIGTERM'), source.listenerCount('SIGINT')]).toEqual([0, 0]);
  });
});
