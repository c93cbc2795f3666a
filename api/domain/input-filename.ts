/**
 * The uploaded file's name as the client sent it (a multipart part's filename, or the one given
 * to POST /v1/uploads), kept on the ImageJob as this annotation and mirrored into jobs.input_filename,
 * so the console can show it and name the output after it. Display only: never a path or a key.
 */
export const INPUT_FILENAME_ANNOTATION = "pixelmill.io/input-filename";

/** The longest name kept, in characters (a common file system limit). */
export const MAX_INPUT_FILENAME = 255;

/**
 * The base name of `name` (after the last `/` or `\`), without control characters, trimmed and cut
 * to MAX_INPUT_FILENAME characters (whole code points); undefined when nothing usable is left.
 */
export function sanitizeFilename(name: string | undefined | null): string | undefined {
  if (!name) return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is dropped
  const base = (name.split(/[/\\]/).pop() ?? "").replace(/[\u0000-\u001f\u007f-\u009f]/g, "").trim();
  if (base === "" || base === "." || base === "..") return undefined;
  return Array.from(base).slice(0, MAX_INPUT_FILENAME).join("").trim() || undefined;
}

/** `name` without its last extension (`cat.photo.png` → `cat.photo`); a dot-file keeps its name. */
export function stem(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}
