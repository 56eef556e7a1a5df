/** What a benchmark entry records about the machine it ran on. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  kernel: string;
  memoryGiB: number;
  node: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    // /proc/cpuinfo is what BENCHMARKS.md quotes; os.cpus() may abbreviate it.
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':')[1]!.trim();
  } catch {
    // Not Linux: keep os.cpus()'s name.
  }
  return {
    // os.cpus(), not availableParallelism(): the latter honours this process's pinning.
    cores: os.cpus().length,
    cpuModel,
    kernel: os.release(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  };
}
