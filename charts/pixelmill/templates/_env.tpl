{{/*
Settings reach the processes as environment variables named as in common/config.ts. Secret values
come from Secrets (secretKeyRef); plain ones are written here.
*/}}

{{/* Plain settings every component shares (workers too, through their WorkerPool's env). */}}
{{- define "pixelmill.env.shared" -}}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: QUEUE_PREFIX
  value: {{ .Values.queuePrefix | quote }}
{{- end }}

{{/* Plain storage settings (API and workers). */}}
{{- define "pixelmill.env.storage" -}}
- name: STORAGE_URL
  value: {{ .Values.storage.url | quote }}
{{- with .Values.storage.s3 }}
- name: S3_REGION
  value: {{ .region | quote }}
- name: S3_FORCE_PATH_STYLE
  value: {{ .forcePathStyle | quote }}
{{- with .endpoint }}
- name: S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .publicEndpoint }}
- name: S3_PUBLIC_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* One variable from a connection Secret: (dict "ctx" $ "name" "database" "key" "DATABASE_URL"). */}}
{{- define "pixelmill.env.secretRef" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ include "pixelmill.connectionSecret" (dict "ctx" .ctx "name" .name) }}
      key: {{ .key }}
{{- end }}

{{- define "pixelmill.env.database" -}}
{{ include "pixelmill.env.secretRef" (dict "ctx" . "name" "database" "key" "DATABASE_URL") }}
{{- end }}

{{- define "pixelmill.env.redis" -}}
{{ include "pixelmill.env.secretRef" (dict "ctx" . "name" "redis" "key" "REDIS_URL") }}
{{- end }}

{{- define "pixelmill.env.s3Credentials" -}}
{{- if include "pixelmill.s3Credentials" . }}
{{ include "pixelmill.env.secretRef" (dict "ctx" . "name" "s3" "key" "S3_ACCESS_KEY_ID") }}
{{ include "pixelmill.env.secretRef" (dict "ctx" . "name" "s3" "key" "S3_SECRET_ACCESS_KEY") }}
{{- end }}
{{- end }}

{{- define "pixelmill.env.platformNamespace" -}}
- name: PIXELMILL_NAMESPACE
  value: {{ .Release.Namespace | quote }}
{{- end }}
