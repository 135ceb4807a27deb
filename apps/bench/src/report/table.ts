/** A table: a header row and data rows of preformatted cells. */
export interface Table {
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** Columns padded to their widest cell, for the terminal. */
export function textTable(t: Table): string {
  const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(t.headers), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

/** A GitHub-flavoured Markdown table. */
export function markdownTable(t: Table): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(t.headers), line(t.headers.map(() => '---')), ...t.rows.map(line)].join('\n');
}

/** Numbers as tables show them. */
export const num = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));
export const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);
export const gib = (bytes: number | null | undefined): string => (bytes === null || bytes === undefined ? '-' : `${(bytes / 2 ** 30).toFixed(2)} GiB`);
