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

export function addLimitOptions(command: Command): Command {
  return command
    .option('--cpu-limit <ms>', `CPU time a request's guest may use before it is killed (platform: 50; default ${PLATFORM_GUEST_LIMITS.cpuMs}, see README)`)
    .option('--time-limit <ms>', `wall-clock time a request's guest may run before it is killed (default ${PLATFORM_GUEST_LIMITS.wallMs}, the platform's)`)
    .option('--memory-limit <MiB>', `linear memory each guest instance may grow to (default ${PLATFORM_GUEST_LIMITS.memoryBytes / MIB}, the platform's heap)`);
}

export function guestLimits(flags: LimitFlags): GuestLimits {
  return {
    cpuMs: flags.cpuLimit === undefined ? PLATFORM_GUEST_LIMITS.cpuMs : positiveInteger('--cpu-limit', flags.cpuLimit),
    wallMs: flags.timeLimit === undefined ? PLATFORM_GUEST_LIMITS.wallMs : positiveInteger('--time-limit', flags.timeLimit),
    memoryBytes: flags.memoryLimit === undefined ? PLATFORM_GUEST_LIMITS.memoryBytes : positiveInteger('--memory-limit', flags.memoryLimit) * MIB,
  };
}
