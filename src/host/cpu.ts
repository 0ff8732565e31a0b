/**
 * A thread's CPU time from /proc (Linux), so the server can hold a guest to a CPU budget that
 * load on the machine does not eat into (wall-clock time minus time parked would).
 */
import { readFileSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc's utime/stime (USER_HZ, 100 on every Linux ABI Node runs on). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time a thread has used, in ms, from /proc (Linux); undefined elsewhere. `path` is
 * `/proc/thread-self/stat` for the calling thread or `/proc/self/task/<tid>/stat` for another.
 * Resolution is one clock tick (10 ms).
 */
export function threadCpuMs(path: string): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15; fields[0] is field 3.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : undefined;
}

/** The calling thread's id, which names its /proc entry for other threads; undefined off Linux. */
export function currentThreadId(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').at(-1));
  } catch {
    return undefined;
  }
}
