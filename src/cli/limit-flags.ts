/** The per-run limit flags `serve` and `run` share, and their conversion to `GuestLimits`. */
import type { Command } from 'commander';
import { PLATFORM_GUEST_LIMITS, type GuestLimits } from '../server/limits.js';
import { UsageError } from './errors.js';

export interface LimitFlags {
  cpuLimit?: string;
  timeLimit?: string;
  memoryLimit?: string;
}

const MIB = 1024 * 1024;

export function positiveInteger(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) throw new UsageError(`${flag} must be a positive integer, got ${text}`);
  return Number(text);
}

export { RUN_LIMITS } from '../server/limits.js';

const shown = (value: number, unit = '') => (Number.isFinite(value) ? `${value}${unit}` : 'none');

export function addLimitOptions(command: Command, defaults: GuestLimits = PLATFORM_GUEST_LIMITS): Command {
  return command
    .option('--cpu-limit <ms>', `CPU time the guest may use per request before it is killed (platform: 50; default ${shown(defaults.cpuMs)}, see README)`)
    .option('--time-limit <ms>', `wall-clock time the guest may run per request before it is killed (platform: 120000; default ${shown(defaults.wallMs)})`)
    .option('--memory-limit <MiB>', `linear memory each guest instance may grow to (default ${defaults.memoryBytes / MIB}, the platform's heap)`);
}

export function guestLimits(flags: LimitFlags, defaults: GuestLimits = PLATFORM_GUEST_LIMITS): GuestLimits {
  return {
    cpuMs: flags.cpuLimit === undefined ? defaults.cpuMs : positiveInteger('--cpu-limit', flags.cpuLimit),
    wallMs: flags.timeLimit === undefined ? defaults.wallMs : positiveInteger('--time-limit', flags.timeLimit),
    memoryBytes: flags.memoryLimit === undefined ? defaults.memoryBytes : positiveInteger('--memory-limit', flags.memoryLimit) * MIB,
  };
}
