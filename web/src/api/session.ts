/**
 * The API key lives in sessionStorage only: it goes when the tab closes, is never written to
 * localStorage or a URL, and is sent only as the Authorization header of same-origin requests.
 */
const KEY = "pixelmill.apiKey";

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

/** Signs out: everything the console kept for this tab goes (the key). */
export function clearSession(): void {
  sessionStorage.clear();
}
