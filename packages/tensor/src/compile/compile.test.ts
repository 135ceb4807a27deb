import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graph/builder.js';
import { GraphError } from '../graph/ops.js';
import type { Value } from '../graph/types.js';
import { type Plan, compile } from './compile.js';
import { formatPlan } from './format.js';

/** A chain of eight linears with a residual sum: enough values for reuse to matter. */
function chain(): ReturnType<GraphBuilder['build']> {
  const b = new GraphBuilder('chain');
  const x = b.input('x', 'f32', ['T', 16]);
  let h: Value = x;
  for (let i = 0; i < 8; i++) h = b.linear(`l${i}`, h, b.weight(`w${i}`, 'f32', [16, 16]));
  b.output('y', b.add('sum', h, x));
  return b.build();
}

/** Checks that no two values that are live at the same time share bytes. */
function expectNoOverlaps(plan: Plan): void {
  const lastUse = new Map<number, number>();
  plan.ops.forEach((op, i) => op.inputs.forEach((id) => lastUse.set(id, i)));
  Object.values(plan.outputs).forEach((id) => lastUse.set(id, plan.ops.length));
  const start = new Map<number, number>();
  plan.values.filter((v) => v.kind === 'input').forEach((v) => start.set(v.id, -1));
  plan.ops.forEach((op, i) => op.outputs.forEach((id) => start.set(id, i)));
  const ids = Object.keys(plan.memory.slots).map(Number);
  for (const a of ids) {
    for (const b of ids) {
      if (a >= b) continue;
      const [sa, sb] = [plan.memory.slots[a]!, plan.memory.slots[b]!];
      const liveTogether =
        start.get(a)! <= (lastUse.get(b) ?? start.get(b)!) && start.get(b)! <= (lastUse.get(a) ?? start.get(a)!);
      const bytesOverlap = sa.offset < sb.offset + sb.bytes && sb.offset < sa.offset + sa.bytes;
      if (liveTogether && bytesOverlap) throw new Error(`values ${a} and ${b} are live together and overlap`);
      expect(sa.offset % plan.memory.alignment).toBe(0);
      expect(sa.offset + sa.bytes).toBeLessThanOrEqual(plan.memory.arenaBytes);
    }
  }
}

describe('compile', () => {
  it('reuses memory of dead values and never overlaps live ones', () => {
    const plan = compile(chain(), { maxDims: { T: 32 } });
    expectNoOverlaps(plan);
    // x lives throughout, and each op's input and output are live together: three buffers.
    expect(plan.memory.arenaBytes).toBe(3 * 32 * 16 * 4);
    expect(plan.memory.unsharedBytes).toBe(10 * 32 * 16 * 4);
  });

  it('drops ops whose results nobody reads', () => {
    const b = new GraphBuilder('dead');
    const x = b.input('x', 'f32', ['T', 4]);
    b.linear('unused', x, b.weight('w0', 'f32', [4, 4]));
    b.output('y', b.linear('used', x, b.weight('w1', 'f32', [4, 4])));
    const plan = compile(b.build(), { maxDims: { T: 2 } });
    expect(plan.ops.map((op) => plan.values[op.outputs[0]!]!.name)).toEqual(['used']);
    expect(plan.values.some((v) => v.name === 'w0')).toBe(false);
  });

  it('requires a maximum for every per-step dimension', () => {
    expect(() => compile(chain(), { maxDims: {} })).toThrow(/maxDims.T must be a positive integer/);
  });

  it('prints a readable plan', () => {
    const text = formatPlan(compile(chain(), { maxDims: { T: 4 } }));
    expect(text).toContain('plan chain: 9 ops; dims T<=4');
    expect(text).toMatch(/#0 %\d+ l0 = linear\(%0 x, %\d+ w0\) -> f32\[T, 16\] @\d+/);
    expect(text).toMatch(/outputs: y = %\d+ sum/);
  });
});

describe('graph builder checks', () => {
  it('names the op, the value and both sizes on a shape mismatch', () => {
    const b = new GraphBuilder('bad');
    const x = b.input('x', 'f32', ['T', 8]);
    expect(() => b.linear('proj', x, b.weight('w', 'f32', [4, 6]))).toThrow(GraphError);
    expect(() => b.linear('proj2', x, b.weight('w2', 'f32', [4, 6]))).toThrow(/proj2: linear: w2 in_features is 6, expected 8/);
  });

  it('rejects duplicate names and malformed symbolic dimensions', () => {
    const b = new GraphBuilder('bad');
    b.input('x', 'f32', ['T']);
    expect(() => b.input('x', 'f32', ['T'])).toThrow(/used twice/);
    expect(() => b.input('y', 'f32', ['T-1'])).toThrow(/bad symbolic dimension 'T-1'/);
  });

  it('rejects heads that do not divide evenly', () => {
    const b = new GraphBuilder('gqa');
    const q = b.input('q', 'f32', ['T', 3 * 4]);
    const k = b.input('k', 'f32', ['T', 2 * 4]);
    const cache = (n: string) => b.state(n, 'f32', ['NB', 4, 2, 4]);
    expect(() =>
      b.pagedAttention(
        'a',
        {
          q,
          k,
          v: k,
          kCache: cache('kc'),
          vCache: cache('vc'),
          slotMapping: b.input('s', 'i32', ['T']),
          blockTables: b.input('bt', 'i32', ['S', 'MB']),
          seqLens: b.input('l', 'i32', ['S']),
          queryStart: b.input('qs', 'i32', ['S+1']),
        },
        { numHeads: 3, numKvHeads: 2, headDim: 4, scale: 0.5, slidingWindow: null },
      ),
    ).toThrow(/numHeads 3 is not a multiple of numKvHeads 2/);
  });
});
