import { PixelmillError } from "../../common/errors.js";

/** A request the API refuses; the HTTP layer maps each class to a status and problem type. */
export class InvalidRequestError extends PixelmillError {
  constructor(message: string, readonly issues?: readonly { path: PropertyKey[]; code: string; message: string }[]) {
    super("InvalidRequest", message);
  }
}

export class UnsupportedMediaTypeError extends PixelmillError {
  constructor(message: string) {
    super("UnsupportedMediaType", message);
  }
}

export class PayloadTooLargeError extends PixelmillError {
  constructor(readonly limit: number) {
    super("PayloadTooLarge", `the upload is larger than ${limit} bytes`);
  }
}

export class UnknownModelError extends PixelmillError {
  constructor(readonly model: string) {
    super("UnknownModel", `there is no ImageModel named ${JSON.stringify(model)}`);
  }
}

/** The apiserver refused the ImageJob (schema or CEL validation); the message is its own. */
export class JobRejectedError extends PixelmillError {
  constructor(message: string) {
    super("JobRejected", message);
  }
}

export class JobNotFoundError extends PixelmillError {
  constructor(readonly id: string) {
    super("JobNotFound", `there is no job ${JSON.stringify(id)}`);
  }
}

export class ForbiddenError extends PixelmillError {
  constructor(message: string) {
    super("Forbidden", message);
  }
}

/** A job the database refuses as data (not for being away): retrying cannot help. */
export class UnstorableJobError extends PixelmillError {
  constructor(readonly uid: string, message: string, options?: { cause?: unknown }) {
    super("UnstorableJob", message, options);
  }
}
