/**
 * KWOK's configuration: Stages for Nodes only. With no Pod stage configured, kwok (standalone,
 * not kwokctl) starts no pod controller at all, so pods on the fake nodes stay exactly as the
 * scheduler left them for the pod runner (pod-runner.ts) to play the kubelet. A node is made
 * Ready once, then its status heartbeat is refreshed now and then; the node Lease that kwok
 * renews (--node-lease-duration-seconds) is what keeps the node lifecycle controller satisfied.
 * The templates use kwok's functions (Now, NodeConditions, NodeIP, Version).
 */
const conditions = `
      {{ $now := Now }}
      {{ $since := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $since | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}`;

/** A Node Stage applying to nodes whose Ready condition is `readyOperator` ["True"]. */
const nodeStage = (name: string, readyOperator: "In" | "NotIn", rest: string) => `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ${name}
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: ${readyOperator}
      values: ["True"]
${rest}`;

export const kwokStagesYaml = [
  nodeStage("pixelmill-node-ready", "NotIn", `  next:
    statusTemplate: |${conditions}
      addresses:
      - address: {{ NodeIP | Quote }}
        type: InternalIP
      - address: {{ .metadata.name | Quote }}
        type: Hostname
      allocatable:
      {{ YAML .status.allocatable 1 }}
      capacity:
      {{ YAML .status.capacity 1 }}
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
        kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
        containerRuntimeVersion: "pixelmill-pod-runner"
        kernelVersion: ""
        osImage: ""
        machineID: ""
        systemUUID: ""
        bootID: ""
      phase: Running
`),
  nodeStage("pixelmill-node-heartbeat", "In", `  delay:
    durationMilliseconds: 20000
    jitterDurationMilliseconds: 25000
  next:
    statusTemplate: |${conditions}
`),
].join("---\n");
