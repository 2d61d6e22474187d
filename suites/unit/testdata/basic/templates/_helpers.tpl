{{- define "basic.fullname" -}}
{{- if .Values.helperFail -}}{{- fail "helper refused" -}}{{- end -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
