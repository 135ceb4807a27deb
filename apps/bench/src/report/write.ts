import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chartsFor, writeCharts } from './charts.js';
import { markdownReport } from './markdown.js';
import { type BenchResult, loadResults, saveResult } from './results.js';

/** Draws report.md and the charts (SVG, PNG) in `dir` from every result file there; returns the files written. */
export async function renderReport(dir: string): Promise<string[]> {
  const results = await loadResults(dir);
  if (results.length === 0) throw new Error(`no ignis-bench results (*.json) in ${dir}`);
  const charts = await writeCharts(dir, chartsFor(results));
  await writeFile(join(dir, 'report.md'), markdownReport(results, charts));
  return [join(dir, 'report.md'), ...charts.flatMap((c) => [join(dir, `${c.name}.svg`), join(dir, `${c.name}.png`)])];
}

/**
 * Saves a result in `dir` and redraws the report from every result there, so that commands run
 * one after another with the same `--output` build one report. Returns the files written.
 */
export async function publish(dir: string, r: BenchResult): Promise<string[]> {
  return [await saveResult(dir, r), ...(await renderReport(dir))];
}
