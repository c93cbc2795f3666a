/** Sizes as people read them: 1.5 MB (powers of 1024, as the API's limits are). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A timestamp in the reader's locale; "—" for none. */
export function formatTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** The first block of a UUID: enough to tell jobs apart on a page. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** "in about 3 min" from now to `iso`. */
export function untilText(iso: string, now = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (seconds <= 5) return "any moment";
  if (seconds < 90) return `in about ${seconds} s`;
  return `in about ${Math.round(seconds / 60)} min`;
}
