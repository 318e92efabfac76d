#!/usr/bin/env bash
# `make demo`: Sigwatch's job on a real single-node cluster on this machine
# (hack/testenv up --cluster: kubelet, containerd, controllers, kube-proxy,
# two registries on the node address; root only, no packet leaves the machine).
#
#  1. Sigwatch's own image is built here (hack/build-image.sh), signed, and its
#     SBOM attested; its Helm chart is pushed to the registry as an OCI
#     artifact, signed and verified; the operator is installed from
#     manifests/install.yaml with only the image and the air-gap flags changed,
#     and runs as 2 pods.
#  2. Four Deployments run real containers: demo/good (signed, SBOM and
#     provenance attested), demo/log4shell (signed, its SBOM lists log4j-core
#     2.14.1), demo/unsigned and demo/imposter (a key the policy does not trust).
#  3. An Enforce ImagePolicy: at deploy time its admission webhook refuses a
#     new Deployment of the unsigned image; what already runs it labels from
#     the digest the kubelet reports.
#  4. demo/web: a pod of an old, unsigned build still runs under a Deployment
#     whose template now pins the fixed, signed release (its ReplicaSet adopted
#     the pod). Sigwatch evicts it through the Eviction API; the ReplicaSet
#     controller's replacement runs the signed digest and is Compliant.
#  5. A policy on sigwatch-system judges Sigwatch's own pods Compliant.
#  6. An ImageAudit report; each pod's verdicts with `kubectl get
#     imageverdicts`; and a PackageQuery answering "which running pods
#     contain log4j-core below 2.17.1?", both through the API server.
# Everything stays up (state in .testenv/) until `make demo-down`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ "$(id -u)" -eq 0 ] || { echo "make demo runs a real node (kubelet, containerd, iptables): run it as root" >&2; exit 1; }
ENV_EXPORTS=$(bash hack/testenv up --cluster) || exit 1
eval "$ENV_EXPORTS"
WORK=$SIGWATCH_TESTENV_DIR/demo
mkdir -p "$WORK"
export COSIGN_PASSWORD=demo TUF_ROOT=$WORK/tuf
R=$SIGWATCH_TEST_REGISTRY
SIGWATCH=(node_modules/.bin/node dist/main.js)
OFFLINE=(--use-signing-config=false --tlog-upload=false --allow-http-registry --yes)

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
wait_until() { # seconds what cmd... (quiet; fails the demo with `what` on timeout)
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out after ${secs}s waiting for: $what" >&2; exit 1; }
    sleep 0.5
  done
}

# A runnable image: hack/testapp (sleeps, answers /healthz on :8080) and a
# layer of random bytes, so every push is a distinct digest.
cp "$(command -v testapp)" "$WORK/testapp" # the cache's bin/ is on PATH after `testenv up`
tar -C "$WORK" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$WORK/app.tar" testapp
push_app() { # repo tag -> digest
  head -c 65536 /dev/urandom >"$WORK/payload"
  tar -C "$WORK" --owner=0 --group=0 --numeric-owner -cf "$WORK/payload.tar" payload
  crane append --insecure --oci-empty-base -f "$WORK/app.tar" -f "$WORK/payload.tar" -t "$R/$1:$2" >/dev/null 2>&1
  crane mutate --insecure "$R/$1:$2" --entrypoint /testapp --set-platform linux/amd64 -t "$R/$1:$2" >/dev/null 2>&1
  crane digest --insecure "$R/$1:$2"
}

sbom() { # log4j-version -> SPDX document
  cat <<EOT
{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"demo",
 "documentNamespace":"https://sigwatch.dev/demo/$1","creationInfo":{"created":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","creators":["Tool: sigwatch-demo"]},
 "packages":[
  {"SPDXID":"SPDXRef-log4j","name":"log4j-core","versionInfo":"$1","downloadLocation":"NOASSERTION",
   "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:maven/org.apache.logging.log4j/log4j-core@$1"}]},
  {"SPDXID":"SPDXRef-jackson","name":"jackson-databind","versionInfo":"2.17.0","downloadLocation":"NOASSERTION",
   "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.17.0"}]}]}
EOT
}

sign_attest() { # repo@digest spdx-file
  cosign sign --key "$WORK/cosign.key" "${OFFLINE[@]}" "$1" >/dev/null 2>&1
  cosign attest --key "$WORK/cosign.key" "${OFFLINE[@]}" --type spdxjson --predicate "$2" "$1" >/dev/null 2>&1
}

[ -f "$WORK/cosign.key" ] || cosign generate-key-pair --output-key-prefix "$WORK/cosign" >/dev/null 2>&1
[ -f "$WORK/imposter.key" ] || cosign generate-key-pair --output-key-prefix "$WORK/imposter" >/dev/null 2>&1

say "Building Sigwatch's own image here (no Docker: Debian libc, Node 24 from npm, dist/), signing it, attesting its SBOM"
mapfile -t BUILT < <(bash hack/build-image.sh --registry "$R" --repo sigwatch --tag demo 2>"$WORK/build-image.log")
SELF=${BUILT[0]}
echo "$SELF"
cosign sign --key "$WORK/cosign.key" "${OFFLINE[@]}" "$SELF" >/dev/null 2>&1
cosign attest --key "$WORK/cosign.key" "${OFFLINE[@]}" --type cyclonedx --predicate "${BUILT[1]}" "$SELF" >/dev/null 2>&1
echo "signed; CycloneDX SBOM of its $(grep -c '"bom-ref"' "${BUILT[1]}") npm components attested"

say "Publishing Sigwatch's Helm chart as an OCI artifact in the same registry, signed with the same key"
CHART_VERSION=$(sed -n 's/^version: //p' charts/sigwatch/Chart.yaml)
helm package charts/sigwatch --destination "$WORK" >/dev/null
PUSHED=$(helm push "$WORK/sigwatch-$CHART_VERSION.tgz" "oci://$R/charts" --plain-http 2>&1) || { echo "$PUSHED" >&2; exit 1; }
CHART_DIGEST=$(sed -n 's/^Digest: \(sha256:[0-9a-f]\{64\}\)$/\1/p' <<<"$PUSHED")
[ -n "$CHART_DIGEST" ] || { echo "helm push printed no digest: $PUSHED" >&2; exit 1; }
CHART="$R/charts/sigwatch@$CHART_DIGEST"
cosign sign --key "$WORK/cosign.key" "${OFFLINE[@]}" "$CHART" >/dev/null 2>&1
echo "$CHART"
"${SIGWATCH[@]}" verify --key "$WORK/cosign.pub" --insecure-registry "$R" "$CHART"
echo "(the operator below is installed from manifests/install.yaml; on a cluster of your own this chart installs with"
echo " helm pull oci://$CHART --plain-http and README, Install with Helm)"

say "Installing Sigwatch from manifests/install.yaml (image and air-gap flags overridden with kustomize)"
mkdir -p "$WORK/install"
cp manifests/install.yaml "$WORK/install/install.yaml"
cat >"$WORK/install/kustomization.yaml" <<EOT
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [install.yaml]
images:
  - name: sigwatch
    newName: ${SELF%@*}
    digest: ${SELF#*@}
patches:
  - target: { kind: Deployment, name: sigwatch }
    patch: |-
      - { op: add, path: /spec/template/spec/containers/0/args/-, value: "--insecure-registry=$R" }
      - { op: add, path: /spec/template/spec/containers/0/args/-, value: "--trust-refresh=off" }
      - { op: add, path: /spec/template/spec/containers/0/args/-, value: "--eviction-retry-interval=5s" }
EOT
kubectl kustomize "$WORK/install" | kubectl apply --server-side -f - >/dev/null
kubectl -n sigwatch-system rollout status deployment/sigwatch --timeout=180s
kubectl -n sigwatch-system get pods -o wide

say "Pushing four runnable images to the registry at $R"
declare -A DIGEST
for name in good log4shell unsigned imposter; do
  DIGEST[$name]=$(push_app "demo/$name" 1.0)
  echo "demo/$name@${DIGEST[$name]}"
done
sbom 2.17.1 >"$WORK/good.spdx.json"
sbom 2.14.1 >"$WORK/log4shell.spdx.json"
cat >"$WORK/provenance.json" <<EOT
{"builder":{"id":"https://sigwatch.dev/demo/builder"},"buildType":"https://sigwatch.dev/demo/build@v1",
 "invocation":{"configSource":{"uri":"git+https://example.com/demo/good","digest":{"sha1":"0123456789abcdef0123456789abcdef01234567"}}}}
EOT
for name in good log4shell; do
  sign_attest "$R/demo/$name@${DIGEST[$name]}" "$WORK/$name.spdx.json"
  echo "demo/$name: signed, SPDX SBOM attested (log4j-core $( [ $name = good ] && echo 2.17.1 || echo 2.14.1 ))"
done
cosign attest --key "$WORK/cosign.key" "${OFFLINE[@]}" --type slsaprovenance --predicate "$WORK/provenance.json" \
  "$R/demo/good@${DIGEST[good]}" >/dev/null 2>&1
echo "demo/good: SLSA provenance attested"
cosign sign --key "$WORK/imposter.key" "${OFFLINE[@]}" "$R/demo/imposter@${DIGEST[imposter]}" >/dev/null 2>&1
echo "demo/imposter: signed with a key the policy does not trust"
WEB_OLD=$(push_app demo/web 0.9)
echo "demo/web@$WEB_OLD: an old, unsigned build"
WEB_NEW=$(push_app demo/web 1.0)
sbom 2.17.1 >"$WORK/web.spdx.json"
sign_attest "$R/demo/web@$WEB_NEW" "$WORK/web.spdx.json"
echo "demo/web@$WEB_NEW: the fixed release, signed, SBOM attested"

say "Running them as Deployments in namespace demo (real containers; the kubelet reports the digest each runs)"
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
wait_until 60 "ServiceAccount demo/default" kubectl -n demo get serviceaccount default
for name in good log4shell unsigned imposter; do
  kubectl -n demo create deployment "$name" --image "$R/demo/$name:1.0" --dry-run=client -o yaml |
    kubectl apply -f - >/dev/null
done
# web: the old pod first, then a ReplicaSet pinning the release adopts it, then
# the Deployment adopts that ReplicaSet (same template: no rollout).
cat <<EOT | kubectl apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: web-0-9, namespace: demo, labels: {app: web, pod-template-hash: old}}
spec: {containers: [{name: web, image: "$R/demo/web@$WEB_OLD"}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-old, namespace: demo, labels: {app: web, pod-template-hash: old}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web, pod-template-hash: old}}
  template:
    metadata: {labels: {app: web, pod-template-hash: old}}
    spec: {containers: [{name: web, image: "$R/demo/web@$WEB_NEW"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "$R/demo/web@$WEB_NEW"}]}
EOT
for name in good log4shell unsigned imposter web; do kubectl -n demo rollout status deployment "$name" --timeout=120s >/dev/null; done
kubectl -n demo get pods -o custom-columns='POD:.metadata.name,PHASE:.status.phase,RUNNING DIGEST (imageID):.status.containerStatuses[0].imageID'

say "An Enforce policy for namespace demo: signed with the demo key, an SBOM, no log4j-core below 2.17.1; evict when a replacement would comply"
{
  cat <<EOT
apiVersion: sigwatch.dev/v1alpha1
kind: ImagePolicy
metadata: {name: demo}
spec:
  mode: Enforce
  match:
    images: ["$R/demo/**"]
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: demo}}
  reverifyInterval: 1m
  sbom:
    required: true
    deny:
      packages: [{purl: pkg:maven/org.apache.logging.log4j/log4j-core, versions: "<2.17.1"}]
  actions:
    label: true
    evict: {enabled: true, noncompliantFor: 5s, maxPerHour: 10, perOwnerInterval: 10m, includeKinds: [], maxNewViolationsPercent: 100}
  authorities:
    - name: demo-key
      key:
        publicKey: |
EOT
  sed 's/^/          /' "$WORK/cosign.pub"
} >"$WORK/policy.yaml"
kubectl apply -f "$WORK/policy.yaml" >/dev/null
kubectl wait --for=condition=Ready imagepolicy/demo --timeout=60s >/dev/null

say "At deploy time: the same policy refuses a new Deployment of the unsigned image (the admission webhook)"
# Both replicas answer admission; each must have seen the policy (their watches are milliseconds behind).
refused() { ! kubectl -n demo create deployment unsigned-again --image "$R/demo/unsigned:1.0" --dry-run=server >/dev/null 2>&1; }
wait_until 30 "the webhook applying the new policy" refused
if kubectl -n demo create deployment unsigned-again --image "$R/demo/unsigned:1.0" 2>"$WORK/refused.txt"; then
  echo "the unsigned Deployment was admitted" >&2
  exit 1
fi
echo "\$ kubectl -n demo create deployment unsigned-again --image $R/demo/unsigned:1.0"
cat "$WORK/refused.txt"

say "What already runs: the same policy judges the digest each pod runs, and labels it"
labelled() { [ "$(kubectl -n demo get pods -l sigwatch.dev/compliance -o name | wc -l)" -ge 5 ]; }
wait_until 90 "all five demo pods labelled" labelled
sleep 2 # the policy status is debounced
kubectl get imagepolicies
echo
kubectl -n demo get pods -o custom-columns='POD:.metadata.name,COMPLIANCE:.metadata.labels.sigwatch\.dev/compliance,REASONS:.metadata.annotations.sigwatch\.dev/reasons'
echo "(unsigned, imposter and log4shell stay: their templates name the same digests, so a replacement would not help)"

say "demo/web: the old pod (unsigned) is evicted, the ReplicaSet controller replaces it with the pinned release"
replaced() {
  [ "$(kubectl -n demo get pods -l app=web,sigwatch.dev/compliance=compliant -o jsonpath='{.items[*].status.containerStatuses[0].imageID}')" = "$R/demo/web@$WEB_NEW" ] &&
    ! kubectl -n demo get pod web-0-9 >/dev/null 2>&1
}
wait_until 120 "the old web pod evicted and replaced by a compliant one" replaced
kubectl -n demo get events --field-selector reason=EvictedNonCompliant -o custom-columns='EVENT:.reason,POD:.involvedObject.name,MESSAGE:.message'
kubectl -n demo get pods -l app=web -o custom-columns='POD:.metadata.name,COMPLIANCE:.metadata.labels.sigwatch\.dev/compliance,RUNNING DIGEST (imageID):.status.containerStatuses[0].imageID'
kubectl get imagepolicy demo -o jsonpath='{range .status.evictions[*]}evicted {.namespace}/{.pod} ({.owner}) at {.time}{"\n"}{end}'

say "Sigwatch judges its own pods: its signature and its signed SBOM"
cat <<EOT | kubectl apply -f - >/dev/null
apiVersion: sigwatch.dev/v1alpha1
kind: ImagePolicy
metadata: {name: sigwatch-self}
spec:
  mode: Enforce
  match:
    images: ["$R/sigwatch"]
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: sigwatch-system}}
    includeSystemNamespaces: true   # the operator's own namespace is excluded unless asked for
  sbom: {required: true}
  actions: {label: true}
  authorities:
    - name: release-key
      key:
        publicKey: |
$(sed 's/^/          /' "$WORK/cosign.pub")
EOT
self_labelled() { [ "$(kubectl -n sigwatch-system get pods -l sigwatch.dev/compliance=compliant -o name | wc -l)" -ge 2 ]; }
wait_until 90 "Sigwatch's pods labelled compliant" self_labelled
kubectl -n sigwatch-system get pods -o custom-columns='POD:.metadata.name,COMPLIANCE:.metadata.labels.sigwatch\.dev/compliance,IMAGE:.status.containerStatuses[0].imageID'

say "An ImageAudit, run now: its report is an ImageAuditReport (kubectl get imageauditreports)"
kubectl -n sigwatch-system delete imageaudit demo --ignore-not-found >/dev/null
cat <<EOT | kubectl apply -f - >/dev/null
apiVersion: sigwatch.dev/v1alpha1
kind: ImageAudit
metadata: {name: demo, namespace: sigwatch-system, annotations: {sigwatch.dev/run-now: "$(date +%s)"}}
spec:
  schedule: "0 6 1 * *"
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: demo}}
EOT
report() { [ -n "$(kubectl -n sigwatch-system get imageaudit demo -o jsonpath='{.status.lastResult.reportName}')" ]; }
wait_until 60 "the audit report" report
REPORT=$(kubectl -n sigwatch-system get imageaudit demo -o jsonpath='{.status.lastResult.reportName}')
kubectl -n sigwatch-system get imageauditreports -l "sigwatch.dev/report=$REPORT"
echo "NON-COMPLIANT (image, reasons, pods):"
kubectl -n sigwatch-system get imageauditreport "$REPORT" \
  -o jsonpath='{range .entries[?(@.verdict=="NonCompliant")]}{.image}{"  "}{.reasons}{"  "}{.pods}{"\n"}{end}'

say "Each pod's images and verdicts, as a tenant reads them: kubectl get imageverdicts (the aggregated API)"
kubectl wait --for=condition=Available apiservice/v1alpha1.inventory.sigwatch.dev --timeout=60s >/dev/null
kubectl get imageverdicts -n demo

say "Which running pods contain log4j-core below 2.17.1? (a PackageQuery through the API server)"
rc=0
"${SIGWATCH[@]}" query pkg:maven/org.apache.logging.log4j/log4j-core --versions '<2.17.1' --cluster || rc=$?
echo "(exit code $rc: 0 means found)"

METRICS=$(kubectl -n sigwatch-system get service sigwatch-metrics -o jsonpath='{.spec.clusterIP}')
say "The cluster and the operator stay up. Look further:"
cat <<EOT
  metrics:    curl -s http://$METRICS:8081/metrics | grep '^sigwatch_'
  dashboard:  config/grafana/sigwatch-dashboard.json (import into Grafana; alert rules in config/prometheus/)
  policy:     kubectl get imagepolicy demo -o yaml        (status: summary, violations, evictions, conditions)
  audit:      kubectl -n sigwatch-system get imageauditreport $REPORT -o yaml
  operator:   kubectl -n sigwatch-system logs deployment/sigwatch
  your shell: eval "\$(bash hack/testenv up --cluster)"   (KUBECONFIG, registries, cosign on PATH)
  stop:       make demo-down
EOT
