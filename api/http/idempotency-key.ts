import { InvalidRequestError } from "../domain/errors.js";

/** 1 to 255 printable ASCII characters, as most APIs with Idempotency-Key allow. */
const KEY = /^[\x20-\x7e]{1,255}$/;

/** The Idempotency-Key header's value, once it is one we take; InvalidRequestError when it is not. */
export function checkIdempotencyKey(key: string): string {
  if (!KEY.test(key)) throw new InvalidRequestError("the Idempotency-Key header must be 1 to 255 printable ASCII characters");
  return key;
}
