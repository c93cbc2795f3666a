import { useEffect, useState } from "react";
import { FINISHED, type JobProgressEvent, type JobView } from "../../../client/index.js";
import { readEvents } from "../../../client/sse.js";
import type { ServerMessage } from "../../../api/http/ws/protocol.js";
import type { Api } from "../api/api.js";

/** The subprotocol of /v1/ws and the prefix of the ticket offered beside it (api/http/ws/protocol.ts). */
const SUBPROTOCOL = "pixelmill.v1";
const TICKET_PREFIX = "ticket.";

export interface JobFeed {
  view: JobView | null;
  progress: JobProgressEvent | null;
  /** Loading the job failed (404: not this tenant's, or no such job). */
  error: unknown;
  /** How changes arrive: the WebSocket, or the event stream when the socket could not open. */
  channel: "websocket" | "events" | null;
}

/** What a feed hears, whichever channel brings it. */
interface Listener {
  status(job: JobView): void;
  progress(progress: JobProgressEvent): void;
  position(queue: JobView["queue"]): void;
}

/**
 * Job `id` as it changes: GET once, then the WebSocket /v1/ws (a ticket as subprotocol: no key
 * in the URL), falling back to the Server-Sent Events of /v1/jobs/:id/events read with fetch
 * (EventSource cannot send the Authorization header). Stops once the job has finished.
 */
export function useJobFeed(api: Api, id: string): JobFeed & { replace: (view: JobView) => void } {
  const [feed, setFeed] = useState<JobFeed>({ view: null, progress: null, error: null, channel: null });

  useEffect(() => {
    const stop = new AbortController();
    setFeed({ view: null, progress: null, error: null, channel: null });
    const listener: Listener = {
      status: (job) => setFeed((f) => ({ ...f, view: job, progress: job.status === "running" ? f.progress : null })),
      progress: (p) => setFeed((f) => ({ ...f, progress: mergeProgress(f.progress, p) })),
      position: (queue) => setFeed((f) => (f.view ? { ...f, view: { ...f.view, queue } } : f)),
    };
    const follow = async () => {
      const first = await api.client.get(id);
      listener.status(first);
      if (FINISHED.includes(first.status) || stop.signal.aborted) return;
      const opened = await followSocket(api, id, listener, stop.signal, () => setFeed((f) => ({ ...f, channel: "websocket" })));
      if (opened || stop.signal.aborted) return;
      setFeed((f) => ({ ...f, channel: "events" }));
      await followEvents(api, id, listener, stop.signal);
    };
    follow().catch((error: unknown) => {
      if (!stop.signal.aborted) setFeed((f) => ({ ...f, error }));
    });
    return () => stop.abort();
  }, [api, id]);

  return { ...feed, replace: (view) => setFeed((f) => ({ ...f, view })) };
}

/** A progress report over the last one: a preview stays until a newer one comes, within the same attempt. */
export function mergeProgress(last: JobProgressEvent | null, next: JobProgressEvent): JobProgressEvent {
  const preview = next.preview ?? (last && last.attempt === next.attempt ? last.preview : undefined);
  return preview === undefined ? next : { ...next, preview };
}

/**
 * Follows the job over the WebSocket until it finishes or the page goes; false when the socket
 * closed before the job finished (never opened, or dropped), so the caller goes on with SSE.
 */
async function followSocket(api: Api, id: string, listener: Listener, signal: AbortSignal, onOpen: () => void): Promise<boolean> {
  let ticket: string;
  try {
    ticket = (await api.client.wsTicket()).ticket;
  } catch {
    return false;
  }
  const url = `${window.location.origin.replace(/^http/, "ws")}/v1/ws`;
  return new Promise((resolve) => {
    let finished = false;
    const socket = new WebSocket(url, [SUBPROTOCOL, TICKET_PREFIX + ticket]);
    const close = () => socket.close(1000);
    signal.addEventListener("abort", close, { once: true });
    socket.onopen = () => {
      onOpen();
      socket.send(JSON.stringify({ type: "subscribe", jobs: [id] }));
    };
    socket.onmessage = (event: MessageEvent<string>) => {
      const message = JSON.parse(event.data) as ServerMessage;
      if (message.type === "status" && message.job.id === id) {
        listener.status(message.job);
        if (FINISHED.includes(message.job.status)) {
          finished = true;
          close();
        }
      } else if (message.type === "progress" && message.job_id === id) {
        const { type: _type, job_id: _job, ...progress } = message;
        listener.progress(progress);
      } else if (message.type === "position" && message.job_id === id) {
        listener.position(message.queue);
      }
    };
    socket.onclose = () => {
      signal.removeEventListener("abort", close);
      resolve(finished || signal.aborted);
    };
  });
}

/** Follows the job's event stream until it finishes, opening it again when it ends early. */
async function followEvents(api: Api, id: string, listener: Listener, signal: AbortSignal): Promise<void> {
  for (let tries = 0; tries < 5 && !signal.aborted; tries++) {
    const res = await api.fetch(`/v1/jobs/${encodeURIComponent(id)}/events`, { headers: { accept: "text/event-stream" }, signal });
    if (!res.body) throw new Error("the job's event stream has no body");
    for await (const event of readEvents(res.body)) {
      tries = 0;
      if (event.event === "progress") listener.progress(JSON.parse(event.data) as JobProgressEvent);
      else if (event.event === "position") listener.position(JSON.parse(event.data) as JobView["queue"]);
      else if (event.event === "status") {
        const job = JSON.parse(event.data) as JobView;
        listener.status(job);
        if (FINISHED.includes(job.status)) return;
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
