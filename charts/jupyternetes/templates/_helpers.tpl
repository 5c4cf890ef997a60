{{/* Chart name. */}}
{{- define "jupyternetes.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name (at most 63 characters: it prefixes object names). */}}
{{- define "jupyternetes.fullname" -}}
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

{{- define "jupyternetes.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "jupyternetes.labels" -}}
helm.sh/chart: {{ include "jupyternetes.chart" . }}
{{ include "jupyternetes.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "jupyternetes.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jupyternetes.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "jupyternetes.operatorSelectorLabels" -}}
{{ include "jupyternetes.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "jupyternetes.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-operator" (include "jupyternetes.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "jupyternetes.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Namespaces whose instances the operator serves, as a JSON list (empty with allNamespaces). */}}
{{- define "jupyternetes.watchNamespaces" -}}
{{- if .Values.operator.allNamespaces }}
{{- list | toJson }}
{{- else if .Values.operator.watchNamespaces }}
{{- .Values.operator.watchNamespaces | uniq | toJson }}
{{- else }}
{{- list .Release.Namespace | toJson }}
{{- end }}
{{- end }}

{{/* Namespaces templates are read from, as a JSON list. */}}
{{- define "jupyternetes.templateNamespaces" -}}
{{- if .Values.operator.templateNamespaces }}
{{- .Values.operator.templateNamespaces | uniq | toJson }}
{{- else }}
{{- list .Release.Namespace | toJson }}
{{- end }}
{{- end }}

{{/* Every namespace the operator watches (kopf watches all its resources in each of them). */}}
{{- define "jupyternetes.readNamespaces" -}}
{{- concat (include "jupyternetes.watchNamespaces" . | fromJsonArray) (include "jupyternetes.templateNamespaces" . | fromJsonArray) | uniq | sortAlpha | toJson }}
{{- end }}

{{/* The operator.otherResources kinds as the operator's --other-resource names them: resource[.group]. */}}
{{- define "jupyternetes.otherResources" -}}
{{- $kinds := list }}
{{- range .Values.operator.otherResources }}
{{- $groups := .apiGroups }}
{{- range $resource := .resources }}
{{- range $group := $groups }}
{{- $kinds = append $kinds (ternary (printf "%s.%s" $resource $group) $resource (ne $group "")) }}
{{- end }}
{{- end }}
{{- end }}
{{- $kinds | uniq | toJson }}
{{- end }}

{{- define "jupyternetes.hubNamespaces" -}}
{{- if .Values.hub.namespaces }}
{{- .Values.hub.namespaces | uniq | toJson }}
{{- else }}
{{- list .Release.Namespace | toJson }}
{{- end }}
{{- end }}

{{- define "jupyternetes.hubServiceAccountNamespace" -}}
{{- default .Release.Namespace .Values.hub.serviceAccount.namespace }}
{{- end }}

{{- define "jupyternetes.defaultTemplateNamespace" -}}
{{- if .Values.defaultTemplate.namespace }}
{{- .Values.defaultTemplate.namespace }}
{{- else }}
{{- first (include "jupyternetes.templateNamespaces" . | fromJsonArray) }}
{{- end }}
{{- end }}

{{/* Whether the admission webhook is installed: asked for, an operator to serve it, and an API server
     that serves webhook configurations (every Kubernetes does, kubesim too; a cluster without them gets none). "true" or "". */}}
{{- define "jupyternetes.webhookEnabled" -}}
{{- if and .Values.webhook.enabled (gt (int .Values.operator.replicas) 0) (.Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1") }}true{{- end }}
{{- end }}
