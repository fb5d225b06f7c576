{{- define "kms-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kms-operator.fullname" -}}
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

{{- define "kms-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kms-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kms-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kms-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kms-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kms-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kms-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ else }}false{{ end }}
{{- end }}

{{- /* The series of this release as the chart's ServiceMonitor scrapes them. */}}
{{- define "kms-operator.scrapeSelector" -}}
job="{{ include "kms-operator.fullname" . }}-metrics",namespace="{{ .Release.Namespace }}"
{{- end }}

{{- /* An alert's labels: its severity and prometheusRule.alertLabels. */}}
{{- define "kms-operator.alertLabels" -}}
severity: {{ .severity }}
{{- with .context.Values.prometheusRule.alertLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}
