import { createServer, type Socket } from "node:net";

export interface FrozenServer {
  /** `http://127.0.0.1:<port>`: an endpoint for an S3 client. */
  url: string;
  close(): Promise<void>;
}

/** A TCP server that takes connections and never answers: a frozen (SIGSTOPped) S3, as its clients see it. */
export async function startFrozenServer(): Promise<FrozenServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
