{{/* The "<release>-<chart>" prefix of resource names, at most 63 characters with suffixes. */}}
{{- define "linkgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "linkgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "proxy"). */}}
{{- define "linkgate.selector" -}}
app.kubernetes.io/name: {{ default .ctx.Chart.Name .ctx.Values.nameOverride }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "linkgate.tenantNamespace" -}}
{{- default .Release.Namespace .Values.tenantNamespace -}}
{{- end -}}

{{- define "linkgate.codeKeySecret" -}}
{{- default (printf "%s-code-key" (include "linkgate.fullname" .)) .Values.proxy.codeKey.secretName -}}
{{- end -}}

{{/* An image reference: (dict "image" .Values.proxy.image "ctx" $). */}}
{{- define "linkgate.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* The rules of a Role file under rbac/, the single source of each binary's permissions. */}}
{{- define "linkgate.rules" -}}
{{- $role := .ctx.Files.Get .file | fromYaml -}}
{{- if not $role.rules -}}
{{- fail (printf "%s has no rules" .file) -}}
{{- end -}}
{{- toYaml $role.rules -}}
{{- end -}}
