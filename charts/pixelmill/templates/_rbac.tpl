{{/* The operator's rules on namespaced resources: in a ClusterRole, or a Role in the watched namespace. */}}
{{- define "pixelmill.operatorRules" -}}
# The ImageJob controller: an informer; the sweep reads one job; finished jobs are deleted after their TTL.
- apiGroups: ["pixelmill.io"]
  resources: ["imagejobs"]
  verbs: ["get", "list", "watch", "delete"]
# It is the single writer of ImageJob status (a replace, so a stale read loses).
- apiGroups: ["pixelmill.io"]
  resources: ["imagejobs/status"]
  verbs: ["update"]
# Models are read from an informer, never written.
- apiGroups: ["pixelmill.io"]
  resources: ["imagemodels"]
  verbs: ["list", "watch"]
# The WorkerPool controller: an informer, and a status patch.
- apiGroups: ["pixelmill.io"]
  resources: ["workerpools"]
  verbs: ["list", "watch"]
- apiGroups: ["pixelmill.io"]
  resources: ["workerpools/status"]
  verbs: ["patch"]
# Worker Deployments name their pool as owner with blockOwnerDeletion, which clusters enforcing
# OwnerReferencesPermissionEnforcement allow only to who may update the pool's finalizers.
- apiGroups: ["pixelmill.io"]
  resources: ["workerpools/finalizers"]
  verbs: ["update"]
# Worker Deployments: an informer, and server-side apply (a patch, and a create the first time).
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["list", "watch", "create", "patch"]
# Before scaling down: list a pool's pods and mark the busy ones with a pod-deletion-cost.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "patch"]
# Events on ImageJobs (why a job failed or was retried).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}
