/**
 * Bounds on what an ImageJob may ask for, in one home: the API's request schema uses them, and
 * the CRD (crds/imagejobs.pixelmill.io.yaml) states the same numbers as its maxima, which a test
 * keeps equal. Durations are bounded to what a job could sensibly ask for; the operator does not
 * rely on them to keep its timers sane (Node's setTimeout holds at most 2^31-1 ms, about 24.8
 * days, less than the longest TTL: requeues are capped at an hour and long timers re-armed).
 * Params are bounded so that a job's spec stays small in etcd, Redis and Postgres.
 */

/** spec.ttlSecondsAfterFinished: a finished job is kept at most 30 days (history stays in the API's database). */
export const MAX_TTL_SECONDS_AFTER_FINISHED = 30 * 24 * 3600;

/** spec.startDeadlineSeconds: a job may wait at most 7 days for a worker to start it. */
export const MAX_START_DEADLINE_SECONDS = 7 * 24 * 3600;

/** spec.timeoutSeconds: one attempt runs at most a day (WorkerPool maxJobSeconds has the same bound). */
export const MAX_TIMEOUT_SECONDS = 24 * 3600;

/** spec.params: how many names a job passes (an ImageModel declares at most 32). */
export const MAX_PARAMS = 64;

/** A param's name: the ImageModel's param names are at most this long. */
export const MAX_PARAM_NAME_LENGTH = 63;

/** A string param's value, in characters. */
export const MAX_PARAM_STRING_LENGTH = 4096;

/** spec.params as JSON, in bytes (UTF-8): checked by the API; the CRD bounds it by count × string length. */
export const MAX_PARAMS_BYTES = 16 * 1024;
