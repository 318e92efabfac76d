{{/* The one label every object carries, as in manifests/install.yaml (the Services and the PDB select by it). */}}
{{- define "sigwatch.labels" -}}
app.kubernetes.io/name: sigwatch
{{- end -}}

{{/* The operator image: repository@digest when a digest is set, else repository:tag (tag defaults to appVersion). */}}
{{- define "sigwatch.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The subject of every binding: the operator's service account in the release namespace. */}}
{{- define "sigwatch.subject" -}}
- { kind: ServiceAccount, name: sigwatch, namespace: {{ .Release.Namespace }} }
{{- end -}}

{{/* Namespaces the webhooks never cover. */}}
{{- define "sigwatch.webhookNamespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ concat (list "kube-system" "kube-public" "kube-node-lease" .Release.Namespace) .Values.webhook.excludedNamespaces | uniq | toJson }}
{{- end -}}
