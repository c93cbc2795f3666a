/** The open Server-Sent Events streams, so that shutdown can end them instead of waiting on them. */
export class SseStreams {
  private readonly open = new Set<() => void>();

  /** Registers a stream's close function; the returned function unregisters it. */
  add(close: () => void): () => void {
    this.open.add(close);
    return () => this.open.delete(close);
  }

  closeAll(): void {
    for (const close of [...this.open]) close();
    this.open.clear();
  }

  get size(): number {
    return this.open.size;
  }
}
