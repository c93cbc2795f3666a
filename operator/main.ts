import { KubeConfig } from "@kubernetes/client-node";
import { loadConfig } from "../common/config.js";
import { createLogger } from "../common/logger.js";
import { startOperator } from "./operator.js";

const config = loadConfig();
const log = createLogger({ level: config.LOG_LEVEL, name: "pixelmill-operator" });
const kc = new KubeConfig();
kc.loadFromDefault(); // KUBECONFIG, else ~/.kube/config, else the in-cluster service account
const operator = await startOperator({
  kc,
  redisUrl: config.REDIS_URL,
  queuePrefix: config.QUEUE_PREFIX,
  namespace: config.PIXELMILL_WATCH_NAMESPACE,
  platformNamespace: config.PIXELMILL_NAMESPACE,
  log,
});

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    operator.stop().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, "Operator did not stop cleanly");
      process.exit(1);
    });
  });
}
