{{/* Names and labels. */}}
{{- define "pixelmill.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pixelmill.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pixelmill.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of a component: (dict "ctx" $ "component" "api"). */}}
{{- define "pixelmill.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pixelmill.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* All labels of a component: (dict "ctx" $ "component" "api"); component may be empty. */}}
{{- define "pixelmill.labels" -}}
helm.sh/chart: {{ include "pixelmill.chart" .ctx }}
{{ include "pixelmill.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: pixelmill
{{- end }}

{{- define "pixelmill.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "pixelmill.workerImage" -}}
{{- printf "%s:%s" .Values.worker.image.repository (default .Chart.AppVersion .Values.worker.image.tag) }}
{{- end }}

{{- define "pixelmill.webhookKeySecret" -}}
{{- default (printf "%s-webhook-key" (include "pixelmill.fullname" .)) .Values.webhooks.existingSecret }}
{{- end }}

{{- define "pixelmill.adminKeySecret" -}}
{{- default (printf "%s-admin-key" (include "pixelmill.fullname" .)) .Values.adminKey.existingSecret }}
{{- end }}

{{/* The Secret holding one connection's settings: (dict "ctx" $ "name" "database"). */}}
{{- define "pixelmill.connectionSecret" -}}
{{- $values := index .ctx.Values .name }}
{{- if eq .name "s3" }}{{ $values = .ctx.Values.storage.s3 }}{{ end }}
{{- default (printf "%s-%s" (include "pixelmill.fullname" .ctx) .name) $values.existingSecret }}
{{- end }}

{{/* Whether S3 credentials come from a Secret (static keys); "" when workload identity is used. */}}
{{- define "pixelmill.s3Credentials" -}}
{{- with .Values.storage.s3 }}{{ if or .existingSecret .accessKeyId }}true{{ end }}{{ end }}
{{- end }}
