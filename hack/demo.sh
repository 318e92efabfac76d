#!/usr/bin/env bash
# `make demo`: a local cluster (kube-apiserver + etcd), two OCI registries and
# cosign; four images — demo/good (signed, SBOM and provenance attested),
# demo/log4shell (signed, its SBOM lists log4j-core 2.14.1), demo/unsigned and
# demo/imposter (signed with a key the policy does not trust) — running in
# pods whose status says which digest runs; then the operator judging them
# under an Enforce ImagePolicy, an ImageAudit report, and the inventory API
# answering "which running pods contain log4j-core?". Everything stays up
# (state in .testenv/) until `make demo-down`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash hack/testenv up)"
WORK=$SIGWATCH_TESTENV_DIR/demo
mkdir -p "$WORK"
export COSIGN_PASSWORD=demo TUF_ROOT=$WORK/tuf
R=$SIGWATCH_TEST_REGISTRY
SIGWATCH=(node_modules/.bin/node dist/main.js)
OFFLINE=(--use-signing-config=false --tlog-upload=false --allow-http-registry --yes)

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

push_random() { # repo -> digest
  head -c 65536 /dev/urandom >"$WORK/payload"
  tar -C "$WORK" -cf "$WORK/layer.tar" payload
  crane append --oci-empty-base -f "$WORK/layer.tar" -t "$R/$1:1.0" >/dev/null 2>&1
  crane digest "$R/$1:1.0"
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

say "Pushing four images to the registry at $R"
declare -A DIGEST
for name in good log4shell unsigned imposter; do
  DIGEST[$name]=$(push_random "demo/$name")
  echo "demo/$name@${DIGEST[$name]}"
done

say "Signing and attesting with cosign (key pairs, cosign v3 bundle format, offline)"
[ -f "$WORK/cosign.key" ] || cosign generate-key-pair --output-key-prefix "$WORK/cosign" >/dev/null 2>&1
[ -f "$WORK/imposter.key" ] || cosign generate-key-pair --output-key-prefix "$WORK/imposter" >/dev/null 2>&1
sbom 2.17.1 >"$WORK/good.spdx.json"
sbom 2.14.1 >"$WORK/log4shell.spdx.json"
cat >"$WORK/provenance.json" <<EOT
{"builder":{"id":"https://sigwatch.dev/demo/builder"},"buildType":"https://sigwatch.dev/demo/build@v1",
 "invocation":{"configSource":{"uri":"git+https://example.com/demo/good","digest":{"sha1":"0123456789abcdef0123456789abcdef01234567"}}}}
EOT
for name in good log4shell; do
  cosign sign --key "$WORK/cosign.key" "${OFFLINE[@]}" "$R/demo/$name@${DIGEST[$name]}" >/dev/null 2>&1
  cosign attest --key "$WORK/cosign.key" "${OFFLINE[@]}" --type spdxjson --predicate "$WORK/$name.spdx.json" \
    "$R/demo/$name@${DIGEST[$name]}" >/dev/null 2>&1
  echo "demo/$name: signed, SPDX SBOM attested (log4j-core $( [ $name = good ] && echo 2.17.1 || echo 2.14.1 ))"
done
cosign attest --key "$WORK/cosign.key" "${OFFLINE[@]}" --type slsaprovenance --predicate "$WORK/provenance.json" \
  "$R/demo/good@${DIGEST[good]}" >/dev/null 2>&1
echo "demo/good: SLSA provenance attested"
cosign sign --key "$WORK/imposter.key" "${OFFLINE[@]}" "$R/demo/imposter@${DIGEST[imposter]}" >/dev/null 2>&1
echo "demo/imposter: signed with a key the policy does not trust"

say "Running all four in namespace demo (the test environment has no kubelet: we write the status it would)"
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
for name in good log4shell unsigned imposter; do
  kubectl -n demo delete pod "$name" --ignore-not-found --grace-period=0 >/dev/null
  kubectl -n demo run "$name" --image "$R/demo/$name:1.0" --restart=Never >/dev/null
  kubectl -n demo patch pod "$name" --subresource=status --type=merge -p "$(printf \
    '{"status":{"phase":"Running","containerStatuses":[{"name":"%s","image":"%s","imageID":"%s","ready":true,"restartCount":0,"state":{"running":{"startedAt":"%s"}}}]}}' \
    "$name" "$R/demo/$name:1.0" "$R/demo/$name@${DIGEST[$name]}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" >/dev/null
done
kubectl -n demo get pods -o custom-columns='POD:.metadata.name,PHASE:.status.phase,RUNNING DIGEST:.status.containerStatuses[0].imageID'

say "Installing the CRDs and starting the operator (sigwatch run, logs in $WORK/operator.log)"
kubectl apply -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=30s crd/imagepolicies.sigwatch.dev crd/imageaudits.sigwatch.dev >/dev/null
kubectl create namespace sigwatch-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
if [ -f "$WORK/operator.pid" ]; then kill "$(cat "$WORK/operator.pid")" 2>/dev/null || true; sleep 1; fi
"${SIGWATCH[@]}" run --kubeconfig "$KUBECONFIG" --namespace sigwatch-system \
  --probe-address 127.0.0.1 --probe-port 0 --inventory-address 127.0.0.1 --inventory-port 0 \
  --insecure-registry "$R" --no-leader-election >"$WORK/operator.log" 2>&1 &
echo $! >"$WORK/operator.pid"
for _ in $(seq 1 100); do grep -q 'inventory on port' "$WORK/operator.log" && break; sleep 0.2; done
PROBE_PORT=$(sed -n 's/.*probes on port \([0-9]*\).*/\1/p' "$WORK/operator.log" | head -1)
INVENTORY_PORT=$(sed -n 's/.*inventory on port \([0-9]*\).*/\1/p' "$WORK/operator.log" | head -1)

say "An Enforce policy for namespace demo: signed with the demo key, an SBOM, no log4j-core below 2.17.1"
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
  actions: {label: true}
  authorities:
    - name: demo-key
      key:
        publicKey: |
EOT
  sed 's/^/          /' "$WORK/cosign.pub"
} >"$WORK/policy.yaml"
kubectl apply -f "$WORK/policy.yaml" >/dev/null
for _ in $(seq 1 150); do
  labelled=$(kubectl -n demo get pods -l sigwatch.dev/compliance -o name | wc -l)
  [ "$labelled" -ge 4 ] && break
  sleep 0.2
done
sleep 1.5 # the policy status is debounced
kubectl get imagepolicies
echo
kubectl -n demo get pods -L sigwatch.dev/compliance -o custom-columns='POD:.metadata.name,COMPLIANCE:.metadata.labels.sigwatch\.dev/compliance,REASONS:.metadata.annotations.sigwatch\.dev/reasons'

say "An ImageAudit, run now: its report is stored in a ConfigMap"
kubectl -n sigwatch-system delete imageaudit demo --ignore-not-found >/dev/null
cat <<EOT | kubectl apply -f - >/dev/null
apiVersion: sigwatch.dev/v1alpha1
kind: ImageAudit
metadata: {name: demo, namespace: sigwatch-system, annotations: {sigwatch.dev/run-now: "$(date +%s)"}}
spec:
  schedule: "0 6 1 * *"
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: demo}}
EOT
REPORT=
for _ in $(seq 1 150); do
  REPORT=$(kubectl -n sigwatch-system get imageaudit demo -o jsonpath='{.status.lastResult.reportConfigMap}' 2>/dev/null || true)
  [ -n "$REPORT" ] && break
  sleep 0.2
done
kubectl -n sigwatch-system get configmap "$REPORT" -o jsonpath='{.data.report\.txt}'

say "Which running pods contain log4j-core below 2.17.1? (the inventory API, with a service account's token)"
kubectl -n sigwatch-system create serviceaccount demo-reader --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl create clusterrole sigwatch-inventory-reader --non-resource-url=/sigwatch/inventory --verb=get \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl create clusterrolebinding sigwatch-demo-reader --clusterrole=sigwatch-inventory-reader \
  --serviceaccount=sigwatch-system:demo-reader --dry-run=client -o yaml | kubectl apply -f - >/dev/null
TOKEN=$(kubectl -n sigwatch-system create token demo-reader)
rc=0
"${SIGWATCH[@]}" query pkg:maven/org.apache.logging.log4j/log4j-core --versions '<2.17.1' --cluster \
  --inventory-url "http://127.0.0.1:$INVENTORY_PORT" --token "$TOKEN" || rc=$?
echo "(exit code $rc: 0 means found)"

say "The environment and the operator stay up. Look further:"
cat <<EOT
  metrics:    curl -s http://127.0.0.1:$PROBE_PORT/metrics | grep '^sigwatch_'
  dashboard:  config/grafana/sigwatch-dashboard.json (import into Grafana; alert rules in config/prometheus/)
  policy:     kubectl get imagepolicy demo -o yaml        (status: summary, violations, conditions)
  audit:      kubectl -n sigwatch-system get imageaudit demo -o yaml
  one-shot:   node_modules/.bin/node dist/main.js audit --namespace sigwatch-system --insecure-registry $R
  your shell: eval "\$(bash hack/testenv up)"   (KUBECONFIG, registries, cosign on PATH)
  stop:       make demo-down
EOT
