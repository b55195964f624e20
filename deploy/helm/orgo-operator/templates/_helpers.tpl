{{/*
Names and labels shared by every template.
*/}}

{{- define "orgo-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the prefix of every object the chart creates. */}}
{{- define "orgo-operator.fullname" -}}
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

{{- define "orgo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orgo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "orgo-operator.labels" -}}
{{- $chart := printf "%s-%s" .Chart.Name .Chart.Version }}
helm.sh/chart: {{ $chart | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "orgo-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "orgo-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "orgo-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- $why := "serviceAccount.name must name an existing ServiceAccount" }}
{{- required (printf "%s when serviceAccount.create is false" $why) .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "orgo-operator.peeringName" -}}
{{- default (include "orgo-operator.fullname" .) .Values.peering.name }}
{{- end }}

{{/* The Secret holding the API key, and the key within it. */}}
{{- define "orgo-operator.apiKeySecretName" -}}
{{- with .Values.orgo.apiKey }}
{{- if and .value .existingSecret }}
{{- $choice := "value (the chart creates a Secret) or existingSecret (one you manage)" }}
{{- fail (printf "orgo.apiKey: set either %s, not both" $choice) }}
{{- end }}
{{- end }}
{{- $managed := printf "%s-api-key" (include "orgo-operator.fullname" .) }}
{{- default $managed .Values.orgo.apiKey.existingSecret }}
{{- end }}

{{- define "orgo-operator.apiKeySecretKey" -}}
{{- if .Values.orgo.apiKey.existingSecret }}
{{- .Values.orgo.apiKey.existingSecretKey }}
{{- else }}
{{- "api-key" }}
{{- end }}
{{- end }}

{{- define "orgo-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* What the operator does to OrgoComputers, wherever it watches them. */}}
{{- define "orgo-operator.resourceRules" -}}
- apiGroups: [orgo.ai]
  resources: [orgocomputers]
  verbs: [get, list, watch, patch]
- apiGroups: [orgo.ai]
  resources: [orgocomputers/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}
