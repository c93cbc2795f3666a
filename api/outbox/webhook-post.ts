import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { refuseUrlHost, type AddressPolicy } from "../../common/address-policy.js";
import { raceAbort } from "../../common/race-abort.js";
import { vetHost, pinnedLookup, type Resolve } from "../../common/vetted-lookup.js";

/** Where webhooks may go: the address policy (after DNS) and whether http:// is allowed. */
export interface WebhookTargetRules {
  addresses: AddressPolicy;
  allowHttp: boolean;
  /** DNS; the system resolver when absent. */
  resolve?: Resolve;
}

const PURPOSE = "webhooks are sent";

/**
 * Why a webhook URL is refused, before DNS (the scheme, an address literal's range), or
 * undefined. The submit path and the sender both ask; the sender then vets the resolved addresses.
 */
export function refuseWebhookUrl(url: string, rules: WebhookTargetRules): string | undefined {
  const parsed = URL.parse(url);
  if (!parsed || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) return "the webhook must be an https:// URL";
  if (parsed.protocol === "http:" && !rules.allowHttp) return "the webhook must be an https:// URL (http:// is not allowed here)";
  if (parsed.username || parsed.password) return "the webhook URL must not carry credentials";
  return refuseUrlHost(rules.addresses, parsed, PURPOSE);
}

/** Why the URL's host is refused once resolved, or undefined; a name that does not resolve is not refused here (it may yet). */
export async function refuseResolvedHost(url: string, rules: WebhookTargetRules): Promise<string | undefined> {
  const early = refuseWebhookUrl(url, rules);
  if (early) return early;
  // A lookup that fails or hangs past 5 s refuses nothing: the sender checks before every attempt.
  const signal = AbortSignal.timeout(5000);
  const found = await vetHost(new URL(url), rules.addresses, rules.resolve, (p) => raceAbort(p, signal), PURPOSE).catch(() => ({ none: true as const }));
  return "refused" in found ? found.refused : undefined;
}

/** How one POST went. */
export type PostResult =
  | { kind: "answered"; status: number; latencyMs: number; excerpt: string }
  | { kind: "refused"; reason: string }
  | { kind: "failed"; error: string; latencyMs: number };

export interface PostOptions extends WebhookTargetRules {
  timeoutMs: number;
  excerptBytes: number;
}

/**
 * POSTs a webhook: the host resolved and every address checked against the policy, the
 * connection pinned to them, within `timeoutMs` in all. Redirects are not followed (a 3xx is an
 * answer like any other non-2xx, so a failure), so no hop escapes the check.
 */
export async function postWebhook(url: string, headers: Record<string, string>, body: string, opts: PostOptions): Promise<PostResult> {
  const early = refuseWebhookUrl(url, opts);
  if (early) return { kind: "refused", reason: early };
  const started = performance.now();
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const latency = () => Math.round(performance.now() - started);
  try {
    const target = new URL(url);
    const vetted = await vetHost(target, opts.addresses, opts.resolve, (p) => raceAbort(p, signal), PURPOSE);
    if ("refused" in vetted) return { kind: "refused", reason: vetted.refused };
    if ("none" in vetted) return { kind: "failed", error: `${target.host} has no address`, latencyMs: latency() };
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(target, {
        method: "POST", signal, lookup: pinnedLookup(vetted.addresses),
        headers: { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), "user-agent": "pixelmill-webhooks" },
      }, resolve);
      req.once("error", reject);
      req.end(body);
    });
    const excerpt = await readExcerpt(res, opts.excerptBytes);
    return { kind: "answered", status: res.statusCode ?? 0, latencyMs: latency(), excerpt };
  } catch (err) {
    const error = signal.aborted ? `no answer within ${opts.timeoutMs} ms (WEBHOOK_TIMEOUT_MS)` : (err as Error).message;
    return { kind: "failed", error, latencyMs: latency() };
  }
}

/** The first `max` bytes of the answer as text; the rest is not read. */
async function readExcerpt(res: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= max) break;
  }
  res.destroy();
  // Postgres text holds no NUL.
  return Buffer.concat(chunks).subarray(0, max).toString("utf8").replaceAll("\u0000", "");
}
