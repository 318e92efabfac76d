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
- { kind: ServiceAccount, name: sigwatch, namespace: {{ .Release.Namespace | quote }} }
{{- end -}}

{{/* Namespaces the webhooks never cover. */}}
{{- define "sigwatch.webhookNamespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ concat (list "kube-system" "kube-public" "kube-node-lease" .Release.Namespace) .Values.webhook.excludedNamespaces | uniq | toJson }}
{{- end -}}


{{/*
  The release namespace must be Sigwatch's own: the webhooks never cover it, and the operator reads every Secret
  and ConfigMap in it. Installed into default or a system namespace, that would exempt it from admission and hand
  the operator its Secrets.
*/}}
{{- define "sigwatch.checks" -}}
{{- if has .Release.Namespace (list "default" "kube-system" "kube-public" "kube-node-lease") -}}
{{- fail (printf "install Sigwatch into a namespace of its own (e.g. --namespace sigwatch-system --create-namespace), not %q: the webhooks never cover the release namespace and the operator reads its Secrets" .Release.Namespace) -}}
{{- end -}}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "string" .Values.podDisruptionBudget.minAvailable)) (le (int .Values.replicas) (int .Values.podDisruptionBudget.minAvailable)) -}}
{{- fail (printf "replicas (%d) must be more than podDisruptionBudget.minAvailable (%d), or no node could ever be drained" (int .Values.replicas) (int .Values.podDisruptionBudget.minAvailable)) -}}
{{- end -}}
{{- end -}}
