/**
 * Every benchmark run appends one dated entry to bench/results/<name>.json (an array, newest
 * last), formatted with the repository's prettier settings so `prettier --check` stays green.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import prettier from 'prettier';
import { machineInfo, type MachineInfo } from './machine.js';

export const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results');

export interface ResultEntry<T> {
  date: string;
  command: string;
  machine: MachineInfo;
  result: T;
}

/** Appends the entry and returns the file it went to. */
export async function appendResult<T>(name: string, result: T, dir: string = RESULTS_DIR): Promise<string> {
  const file = path.join(dir, `${name}.json`);
  mkdirSync(dir, { recursive: true });
  const entries: unknown[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as unknown[]) : [];
  const entry: ResultEntry<T> = {
    date: new Date().toISOString(),
    command: [
      `npm run bench:${name}`,
      ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : []),
    ].join(' '),
    machine: machineInfo(),
    result,
  };
  entries.push(entry);
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(file, await prettier.format(JSON.stringify(entries), { ...options, parser: 'json' }));
  return file;
}
