import { createHmac, timingSafeEqual } from "node:crypto";
import { checkKey } from "./object-store.js";

export interface UrlSignerOptions {
  /** Absolute URL the signed paths hang under, e.g. `${PUBLIC_URL}/v1/files`. */
  baseUrl: string;
  /** HMAC-SHA256 key (URL_SIGNING_SECRET). */
  secret: string;
  now?: () => number;
}

/**
 * Signed, expiring GET URLs for objects of a file:// store, which has no presigning of its own:
 * `<baseUrl>/<key>?expires=<unix seconds>&sig=<hex HMAC-SHA256 of key and expiry>`. The API
 * serves them after `verify`.
 */
export class UrlSigner {
  private readonly baseUrl: string;
  private readonly now: () => number;

  constructor(private readonly opts: UrlSignerOptions) {
    if (opts.secret.length < 32) throw new Error("the URL signing secret must have at least 32 characters");
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.now = opts.now ?? Date.now;
  }

  sign(key: string, expiresInSeconds: number): string {
    const expires = Math.floor(this.now() / 1000) + Math.ceil(expiresInSeconds);
    const path = checkKey(key).split("/").map(encodeURIComponent).join("/");
    return `${this.baseUrl}/${path}?expires=${expires}&sig=${this.mac(key, expires)}`;
  }

  /**
   * A signer for another use of signed URLs (PUT /v1/uploads beside GET /v1/files): its key is
   * derived from this one's and `purpose`, so a URL signed for one use is never valid for another.
   */
  derive(purpose: string, baseUrl: string): UrlSigner {
    const secret = createHmac("sha256", this.opts.secret).update(`pixelmill url signer\n${purpose}`).digest("hex");
    return new UrlSigner({ baseUrl, secret, now: this.now });
  }

  /** Whether `sig` is this signer's signature of `key` and `expires`, and `expires` has not passed. */
  verify(key: string, expires: string | undefined, sig: string | undefined): boolean {
    if (!expires || !/^\d{1,12}$/.test(expires) || !sig || !/^[0-9a-f]{64}$/.test(sig)) return false;
    const at = Number(expires);
    if (at * 1000 < this.now()) return false;
    return timingSafeEqual(Buffer.from(this.mac(key, at), "hex"), Buffer.from(sig, "hex"));
  }

  private mac(key: string, expires: number): string {
    // The newline cannot occur in a key (checkKey refuses control characters), so the two parts stay apart.
    return createHmac("sha256", this.opts.secret).update(`${key}\n${expires}`).digest("hex");
  }
}
