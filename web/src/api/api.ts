import { PixelmillApiError, PixelmillClient, problemOf, type JobSummary } from "../../../client/index.js";
import type { JobFile, MeView, PoolView, WebhookDeliveryView } from "./types.js";

/**
 * The console's way to the API: the typed client of client/index.ts, and the few requests it
 * has no method for (webhook deliveries, the event stream read with `position` events), made
 * the same way (the same origin, the same Bearer header, the same problem errors).
 */
export class Api {
  readonly client: PixelmillClient;

  /** `onUnauthorized` hears a 401 from the API: the key was revoked or expired since sign-in. */
  constructor(private readonly apiKey: string, private readonly onUnauthorized?: () => void) {
    // A wrapper, not fetch itself: the client calls it as a method, which window.fetch refuses.
    this.client = new PixelmillClient({ baseUrl: window.location.origin, apiKey, fetch: (input, init) => this.send(input, init) });
  }

  private async send(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const res = await fetch(input, init);
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (res.status === 401 && url.startsWith(`${window.location.origin}/v1/`)) this.onUnauthorized?.();
    return res;
  }

  /** A request to the API with the key; PixelmillApiError with the problem when it is not 2xx. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${this.apiKey}`);
    if (!headers.has("accept")) headers.set("accept", "application/json");
    const res = await this.send(`${window.location.origin}${path}`, { ...init, headers });
    if (!res.ok) throw new PixelmillApiError(await problemOf(res));
    return res;
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    return (await (await this.fetch(path, init)).json()) as T;
  }

  me(): Promise<MeView> {
    return this.client.me();
  }

  async pools(): Promise<PoolView[]> {
    return (await this.client.pools()).items;
  }

  /** A job's output or input bytes, with the name to save them under (from Content-Disposition). */
  async jobFile(id: string, which: "output" | "input"): Promise<JobFile> {
    const file = which === "output" ? await this.client.output(id) : await this.client.input(id);
    return { blob: new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.contentType }), contentType: file.contentType, filename: file.filename };
  }

  webhookDeliveries(cursor?: string): Promise<{ items: WebhookDeliveryView[]; next_cursor: string | null }> {
    return this.json(`/v1/webhook-deliveries${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
  }

  async redeliver(id: string): Promise<void> {
    await this.fetch(`/v1/webhook-deliveries/${encodeURIComponent(id)}/redeliver`, { method: "POST" });
  }

  /**
   * Submits checked images as one multipart request (POST /v1/jobs), each an `image` part under
   * its own name (the job's input.filename): one image is one job, two or more one batch job.
   */
  async submitImages(files: readonly File[], model: string, params: Record<string, unknown>): Promise<JobSummary> {
    const form = new FormData();
    form.set("model", model);
    form.set("params", JSON.stringify(params));
    for (const file of files) form.append("image", file, file.name);
    return this.json<JobSummary>("/v1/jobs", { method: "POST", body: form });
  }
}

/** What an error says to a person: the API problem's title and detail, or the error's message. */
export function describeError(error: unknown): { title: string; detail: string } {
  if (error instanceof PixelmillApiError) return { title: error.problem.title, detail: error.problem.detail };
  if (error instanceof Error) return { title: "Something went wrong", detail: error.message };
  return { title: "Something went wrong", detail: String(error) };
}

export { PixelmillApiError };
