import { PixelmillError } from "../../common/errors.js";

// Errors only the HTTP layer raises, about the request as HTTP; problem.ts maps each to a status and problem type.

/** A Content-Type the route does not take. */
export class UnsupportedMediaTypeError extends PixelmillError {
  constructor(message: string) {
    super("UnsupportedMediaType", message);
  }
}

/** A signed link that is not valid or has expired. */
export class ForbiddenError extends PixelmillError {
  constructor(message: string) {
    super("Forbidden", message);
  }
}

/** A multipart form with more fields, files or parts than the API reads: refused rather than cut short. */
export class FormTooLargeError extends PixelmillError {
  constructor(readonly unit: string, readonly limit: number) {
    super("FormTooLarge", `the form has more than ${limit} ${unit}`);
  }
}
