import { formatShape } from '../graph/dims.js';
import type { AttrValue, Value, WeightSlice } from '../graph/types.js';
import { describeFormat } from '../graph/weight-format.js';
import type { Plan } from './compile.js';

const KIB = 1024;

/** Bytes as a short human-readable size. */
export function formatBytes(bytes: number): string {
  if (bytes < KIB) return `${bytes} B`;
  if (bytes < KIB * KIB) return `${(bytes / KIB).toFixed(1)} KiB`;
  if (bytes < KIB ** 3) return `${(bytes / KIB ** 2).toFixed(2)} MiB`;
  return `${(bytes / KIB ** 3).toFixed(2)} GiB`;
}

function formatAttr(value: AttrValue): string {
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  return typeof value === 'string' ? value : String(value);
}

/**
 * The plan as text, one line per value and op:
 * `#3 %12 layers.0.q = linear(%10 layers.0.norm, %4 model...q_proj.weight) -> f32[T, 64] @4096`.
 */
export function formatPlan(plan: Plan): string {
  const ref = (id: number): string => `%${id} ${plan.values[id]!.name}`;
  const type = (v: Value): string => `${v.dtype}${formatShape(v.shape)}`;
  const at = (id: number): string => {
    const slot = plan.memory.slots[id];
    return slot ? ` @${slot.offset}` : '';
  };
  const dims = Object.entries(plan.maxDims)
    .map(([k, v]) => `${k}<=${v}`)
    .join(' ');
  const lines = [
    `plan ${plan.name}: ${plan.ops.length} ops; dims ${dims}${plan.loadDims.length ? `; load-time ${plan.loadDims.join(' ')}` : ''}`,
    `passes: ${plan.passes.join(', ') || '(none)'}`,
    `arena: ${formatBytes(plan.memory.arenaBytes)} (${formatBytes(plan.memory.unsharedBytes)} without reuse)`,
  ];
  for (const kind of ['input', 'weight', 'constant', 'state'] as const) {
    const values = plan.values.filter((v) => v.kind === kind);
    if (values.length === 0) continue;
    lines.push(`${kind}s:`);
    for (const v of values) {
      const slices = v.slices ? ` = ${v.slices.map(formatSlice).join(' | ')}` : '';
      const format = v.format ? ` (${describeFormat(v.dtype, v.format)})` : '';
      lines.push(`  %${v.id} ${v.slices ? 'assembled' : v.name} ${type(v)}${at(v.id)}${format}${slices}`);
    }
  }
  lines.push('ops:');
  for (const op of plan.ops) {
    const outs = op.outputs.map(ref).join(', ');
    const args = op.inputs.map(ref).join(', ');
    const attrs = Object.entries(op.attrs)
      .map(([k, v]) => `${k}: ${formatAttr(v)}`)
      .join(', ');
    const types = op.outputs.map((id) => `${type(plan.values[id]!)}${at(id)}`).join(', ');
    lines.push(`  #${op.id} ${outs} = ${op.op}(${args})${attrs ? ` {${attrs}}` : ''} -> ${types}`);
  }
  lines.push(`outputs: ${Object.entries(plan.outputs).map(([k, id]) => `${k} = ${ref(id)}`).join(', ')}`);
  return lines.join('\n');
}

/** A slice as `name[r0:r1, c0:c1] at (row, col)`; ranges left out when whole. */
function formatSlice(slice: WeightSlice): string {
  const range = (r: readonly [number, number] | undefined): string => (r ? `${r[0]}:${r[1]}` : ':');
  const region = slice.rows || slice.cols ? `[${range(slice.rows)}${slice.shape.length === 2 ? `, ${range(slice.cols)}` : ''}]` : '';
  return `${slice.name}${region} at (${slice.at.join(', ')})`;
}
