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

{{/* Refuses replication values the schema cannot: the schema refuses peers without a region. */}}
{{- define "linkgate.checkReplication" -}}
{{- $r := .Values.operator.replication -}}
{{- if and $r.region (ne $r.region .Values.proxy.region) -}}
{{- fail (printf "operator.replication.region is %q but proxy.region is %q: they must be the same, as the operator pushes only the DeviceLinks whose revision names its region" $r.region .Values.proxy.region) -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $r.peers -}}
{{- if eq .name $r.region -}}
{{- fail (printf "operator.replication.peers: %q is this region" .name) -}}
{{- end -}}
{{- if hasKey $seen .name -}}
{{- fail (printf "operator.replication.peers: %q is named twice" .name) -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- end -}}
{{- end -}}
