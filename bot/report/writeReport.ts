/** Writes report.json and report.html into a directory (created if needed). */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BotReport } from './buildReport.js';
import { renderHtmlReport } from './htmlReport.js';

export async function writeReport(report: BotReport, dir: string): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, 'report.json');
  const html = path.join(dir, 'report.html');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(html, renderHtmlReport(report));
  return { json, html };
}
