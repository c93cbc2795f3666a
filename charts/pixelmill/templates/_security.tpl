{{/*
Hardening shared by every pod the chart renders (the operator applies the same to workers,
operator/controllers/workerpool/worker-deployment.ts): a non-root user, no privilege escalation,
no capabilities, the runtime's seccomp profile and a read-only root filesystem with /tmp on an
emptyDir.
*/}}
{{- define "pixelmill.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "pixelmill.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{- define "pixelmill.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end }}

{{- define "pixelmill.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}
