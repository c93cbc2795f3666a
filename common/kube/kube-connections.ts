import { createHash } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Dispatcher } from "undici";

/** How many TLS settings (rotated client certificates) keep a dispatcher of their own at once. */
const KEPT = 4;

type CreateDispatcher = (cluster: unknown, agentOptions: unknown) => Dispatcher | undefined;

const shared = new WeakSet<KubeConfig>();

/**
 * Reuses connections to the apiserver. @kubernetes/client-node 2.0 builds a new undici Agent for
 * every request (KubeConfig.createDispatcher), so each request opened a new TLS connection and
 * left it open: bench:pipeline counted 3.5 new connections per job, TLS set-up about a fifth of
 * the operator's busy time, and 150–300 sockets open at the end of a run. Here the agent is kept
 * per distinct TLS setting (the CA, client certificate and key the kubeconfig gives, read again
 * for each request as before), so a rotated certificate still gets a new agent; bearer tokens go
 * in headers and do not matter. Its keep-alive is the client's (30 s TCP keep-alive), and
 * undici's own idle and request timeouts still close a dead connection.
 *
 * Overrides a method the library declares private: common/kube/kube-connections.test.ts counts the
 * connections, so a library change that bypasses it fails there.
 */
export function shareConnections(kc: KubeConfig): KubeConfig {
  if (shared.has(kc)) return kc;
  shared.add(kc);
  const target = kc as unknown as { createDispatcher: CreateDispatcher; createDispatcherOptions(cluster: unknown, agentOptions: unknown): unknown };
  const create = target.createDispatcher.bind(kc);
  const kept = new Map<string, Dispatcher | undefined>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = createHash("sha256").update(JSON.stringify([(cluster as { server?: string } | null)?.server, target.createDispatcherOptions(cluster, agentOptions)])).digest("hex");
    if (!kept.has(key)) {
      // The oldest setting's agent is dropped, not closed: requests under way finish, idle sockets time out.
      if (kept.size >= KEPT) kept.delete(kept.keys().next().value!);
      kept.set(key, create(cluster, agentOptions));
    }
    return kept.get(key);
  };
  return kc;
}
