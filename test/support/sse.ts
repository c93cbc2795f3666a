export interface SseMessage {
  event?: string;
  id?: string;
  data?: string;
  /** A comment line (`: text`), as keepalives are. */
  comment?: string;
}

/** The messages of a text/event-stream response, as they arrive, until the server ends it. */
export async function* readSse(res: Response): AsyncGenerator<SseMessage> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      yield parse(block);
    }
  }
}

function parse(block: string): SseMessage {
  const message: SseMessage = {};
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) message.comment = line.slice(1).trim();
    const match = /^(event|id|data): ?(.*)$/.exec(line);
    if (match) message[match[1] as "event" | "id" | "data"] = match[2];
  }
  return message;
}
