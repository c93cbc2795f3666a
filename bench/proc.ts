/** Reading /proc/<pid>/stat, for the benches that measure their processes (Linux). */

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
export const TICKS_PER_SECOND = 100;
export const PAGE_BYTES = 4096;

/** The fields of /proc/<pid>/stat the benches read; the command name (field 2) may hold spaces and parentheses. */
export function parseStat(stat: string): { comm: string; ppid: number; utime: number; stime: number; rssPages: number } {
  const close = stat.lastIndexOf(")");
  const rest = stat.slice(close + 2).split(" ");
  // rest[0] is field 3 (state): field n is rest[n - 3].
  return { comm: stat.slice(stat.indexOf("(") + 1, close), ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]), rssPages: Number(rest[21]) };
}
