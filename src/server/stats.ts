/** The `--stats` line: the server's live counts plus the process's memory and open file descriptors. */
import { readdirSync } from 'node:fs';
import type { ServerStats } from './server.js';

const MIB = 1024 * 1024;

/** Open file descriptors of this process (sockets included), from /proc; undefined off Linux. */
export function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

export function statsLine(stats: ServerStats): string {
  const memory = process.memoryUsage();
  const fields: Record<string, number | string | undefined> = {
    ...stats,
    rss_mb: (memory.rss / MIB).toFixed(1),
    heap_mb: (memory.heapUsed / MIB).toFixed(1),
    fds: openFds(),
  };
  return `stats ${Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ')}`;
}
