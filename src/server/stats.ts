/** The `--stats` line: the server's live counts plus the process's memory and open file descriptors. */
import { readdirSync, readlinkSync } from 'node:fs';
import type { ServerStats } from './server.js';

const MIB = 1024 * 1024;

/** Open file descriptors of this process, and how many are sockets, from /proc; undefined off Linux. */
export function openFds(): { fds: number; sockets: number } | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return undefined;
  }
  let sockets = 0;
  for (const name of names) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`).startsWith('socket:')) sockets++;
    } catch {
      // Closed since the listing (the listing's own descriptor, for one).
    }
  }
  return { fds: names.length, sockets };
}

export function statsLine(stats: ServerStats): string {
  const memory = process.memoryUsage();
  const fields: Record<string, number | string | undefined> = {
    ...stats,
    rss_mb: (memory.rss / MIB).toFixed(1),
    heap_mb: (memory.heapUsed / MIB).toFixed(1),
    ...openFds(),
  };
  return `stats ${Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ')}`;
}
