import { setTimeout as sleep } from "node:timers/promises";
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "../../common/logger.js";
import { errorMessage } from "../../common/kube/list-watch.js";

/** Why leadership ended: `stopped` by stop() (the lease released), `lost` when a renewal did not succeed before the renew deadline. */
export type StoppedReason = "stopped" | "lost";

/** The Lease calls the elector makes (CoordinationV1Api's); tests wrap them to make renewals fail. */
export type LeaseApi = Pick<CoordinationV1Api, "readNamespacedLease" | "createNamespacedLease" | "replaceNamespacedLease">;

export interface LeaderElectionOptions {
  kc: KubeConfig;
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This candidate's holderIdentity: POD_NAME, or hostname and pid. */
  identity: string;
  /** How long a lease holds without renewal before a standby may take it (client-go: 15 s). */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it stops acting (client-go: 10 s); below leaseDurationMs. */
  renewDeadlineMs: number;
  /** Between attempts to acquire or renew (client-go: 2 s). */
  retryPeriodMs: number;
  log: Logger;
  /** Called once leadership is acquired; not awaited, renewals go on meanwhile. */
  onStartedLeading: () => void | Promise<void>;
  /** Called once when leadership ends, after having led; awaited before the lease is released on stop(). */
  onStoppedLeading: (reason: StoppedReason) => void | Promise<void>;
  leaseApi?: LeaseApi;
}

export interface LeaderElector {
  isLeader(): boolean;
  /** Stops contending; a leader calls onStoppedLeading("stopped") and then releases the lease so a standby takes over at once. */
  stop(): Promise<void>;
}

function isStatus(err: unknown, code: number): boolean {
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  return e?.code === code || e?.statusCode === code;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: a candidate
 * takes the lease when it is free (no holder) or when its record has not changed for
 * leaseDuration, as measured on this candidate's own clock from when it observed the record
 * (no trust in other clocks); every write carries the resourceVersion read, so a 409 means another
 * candidate won the race. The leader renews every retryPeriod; if no renewal succeeds within
 * renewDeadline of the last success it stops acting (onStoppedLeading("lost")) — before a standby,
 * which waits leaseDuration > renewDeadline, can take the lease. A lost elector does not contend
 * again: the process is expected to exit and start clean. ADR 0011.
 */
export function startLeaderElection(opts: LeaderElectionOptions): LeaderElector {
  const { namespace, name, identity, log } = opts;
  if (!(opts.retryPeriodMs > 0 && opts.retryPeriodMs < opts.renewDeadlineMs && opts.renewDeadlineMs < opts.leaseDurationMs)) {
    throw new Error("leader election: need 0 < retryPeriod < renewDeadline < leaseDuration");
  }
  const api: LeaseApi = opts.leaseApi ?? opts.kc.makeApiClient(CoordinationV1Api);
  const abort = new AbortController();
  let leading = false;
  let ended = false;
  /** The record last read and when (this clock) it was first seen: expiry is judged by it. */
  let observed: { resourceVersion: string; at: number } | undefined;
  let lastRenewStart = 0;
  let deadlineTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;

  const leaseSeconds = Math.max(1, Math.ceil(opts.leaseDurationMs / 1000));

  /** One attempt; true when this candidate holds the lease afterwards. */
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const now = new V1MicroTime(Date.now());
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
      try {
        const created = await api.createNamespacedLease({ namespace, body: {
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        } });
        observed = { resourceVersion: created.metadata?.resourceVersion ?? "", at: Date.now() };
        return true;
      } catch (createErr) {
        if (isStatus(createErr, 409)) return false; // another candidate created it first
        throw createErr;
      }
    }
    const rv = lease.metadata?.resourceVersion ?? "";
    if (observed?.resourceVersion !== rv) observed = { resourceVersion: rv, at: Date.now() };
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const mine = holder === identity;
    const durationMs = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
    if (!mine && holder !== "" && Date.now() < observed.at + durationMs) return false; // held and not expired
    if (!mine && leading) return false; // taken while we thought we led: lost
    try {
      const updated = await api.replaceNamespacedLease({ name, namespace, body: {
        ...lease,
        metadata: { ...lease.metadata, resourceVersion: rv },
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: leaseSeconds,
          acquireTime: mine ? spec.acquireTime : now,
          renewTime: now,
          leaseTransitions: mine ? spec.leaseTransitions : (spec.leaseTransitions ?? 0) + 1,
        },
      } });
      observed = { resourceVersion: updated.metadata?.resourceVersion ?? "", at: Date.now() };
      return true;
    } catch (err) {
      if (isStatus(err, 409)) return false; // lost the race: the record changed since we read it
      throw err;
    }
  };

  const attempt = async (): Promise<boolean> => {
    try {
      return await tryAcquireOrRenew();
    } catch (err) {
      log.warn({ lease: `${namespace}/${name}`, err: errorMessage(err) }, "Lease request failed");
      return false;
    }
  };

  const armDeadline = () => {
    clearTimeout(deadlineTimer);
    deadlineTimer = setTimeout(() => void lose(), Math.max(0, lastRenewStart + opts.renewDeadlineMs - Date.now()));
  };

  const lose = async () => {
    if (!leading || ended) return;
    leading = false;
    ended = true;
    clearTimeout(deadlineTimer);
    abort.abort();
    log.error({ lease: `${namespace}/${name}`, identity }, "Leadership lost: no renewal within the renew deadline");
    try {
      await opts.onStoppedLeading("lost");
    } catch (err) {
      log.error({ err }, "onStoppedLeading failed");
    }
  };

  const run = async () => {
    // Acquire.
    while (!abort.signal.aborted) {
      const start = Date.now();
      if (await attempt()) {
        if (abort.signal.aborted) return; // stop() came meanwhile; it releases what we hold
        leading = true;
        lastRenewStart = start;
        armDeadline();
        log.info({ lease: `${namespace}/${name}`, identity }, "Leadership acquired");
        // Not awaited (client-go runs it apart too): renewals go on while the controllers start.
        void Promise.resolve().then(opts.onStartedLeading).catch((err: unknown) => log.error({ err }, "onStartedLeading failed"));
        break;
      }
      await sleep(opts.retryPeriodMs, undefined, { signal: abort.signal }).catch(() => undefined);
    }
    // Renew.
    while (!abort.signal.aborted && leading) {
      await sleep(opts.retryPeriodMs, undefined, { signal: abort.signal }).catch(() => undefined);
      if (abort.signal.aborted || !leading) return;
      const start = Date.now();
      if (await attempt()) {
        if (!leading) return;
        lastRenewStart = start;
        armDeadline();
      }
    }
  };

  const loop = run();

  return {
    isLeader: () => leading,
    stop: () => {
      stopping ??= (async () => {
        abort.abort();
        clearTimeout(deadlineTimer);
        await loop;
        if (ended) return;
        ended = true;
        const wasLeading = leading;
        leading = false;
        if (wasLeading) {
          try {
            await opts.onStoppedLeading("stopped");
          } catch (err) {
            log.error({ err }, "onStoppedLeading failed");
          }
        }
        // Release: also after an acquire that raced stop(). Only a lease we still hold is touched.
        try {
          const lease = await api.readNamespacedLease({ name, namespace });
          if (lease.spec?.holderIdentity !== identity) return;
          await api.replaceNamespacedLease({ name, namespace, body: {
            ...lease,
            spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: new V1MicroTime(Date.now()) },
          } });
          log.info({ lease: `${namespace}/${name}`, identity }, "Lease released");
        } catch (err) {
          if (!isStatus(err, 404)) log.warn({ lease: `${namespace}/${name}`, err: errorMessage(err) }, "Could not release the lease");
        }
      })();
      return stopping;
    },
  };
}
