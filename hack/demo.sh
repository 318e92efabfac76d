#!/usr/bin/env bash
# `make demo`: a local cluster (kube-apiserver + etcd), two OCI registries and
# cosign, with one signed and one unsigned image running in pods whose status
# says which digest runs — the situation Sigwatch watches — then the operator
# labelling them under an Enforce ImagePolicy. Everything stays up (state in
# .testenv/) until `make demo-down`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash hack/testenv up)"
WORK=$SIGWATCH_TESTENV_DIR/demo
mkdir -p "$WORK"
export COSIGN_PASSWORD=demo TUF_ROOT=$WORK/tuf
R=$SIGWATCH_TEST_REGISTRY

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

push_random() { # repo -> digest
  head -c 65536 /dev/urandom >"$WORK/payload"
  tar -C "$WORK" -cf "$WORK/layer.tar" payload
  crane append --oci-empty-base -f "$WORK/layer.tar" -t "$R/$1:1.0" >/dev/null 2>&1
  crane digest "$R/$1:1.0"
}

say "Pushing two images to the registry at $R"
SIGNED=$(push_random demo/signed)
UNSIGNED=$(push_random demo/unsigned)
echo "demo/signed@$SIGNED"
echo "demo/unsigned@$UNSIGNED"

say "Signing demo/signed with cosign (key pair, cosign v3 bundle format, offline)"
[ -f "$WORK/cosign.key" ] || cosign generate-key-pair --output-key-prefix "$WORK/cosign" >/dev/null 2>&1
cosign sign --key "$WORK/cosign.key" --use-signing-config=false --tlog-upload=false --allow-http-registry --yes \
  "$R/demo/signed@$SIGNED" 2>&1 | sed 's/^/  /'

say "Running both in namespace demo (the test environment has no kubelet: we write the status it would)"
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
for name in signed unsigned; do
  digest=$SIGNED; [ $name = signed ] || digest=$UNSIGNED
  kubectl -n demo delete pod "$name" --ignore-not-found --grace-period=0 >/dev/null
  kubectl -n demo run "$name" --image "$R/demo/$name:1.0" --restart=Never >/dev/null
  kubectl -n demo patch pod "$name" --subresource=status --type=merge -p "$(printf \
    '{"status":{"phase":"Running","containerStatuses":[{"name":"%s","image":"%s","imageID":"%s","ready":true,"restartCount":0,"state":{"running":{"startedAt":"%s"}}}]}}' \
    "$name" "$R/demo/$name:1.0" "$R/demo/$name@$digest" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" >/dev/null
done
kubectl -n demo get pods -o custom-columns='POD:.metadata.name,PHASE:.status.phase,RUNNING DIGEST:.status.containerStatuses[0].imageID'

say "Sigwatch verifies the digests that actually run (the imageIDs above)"
mapfile -t running < <(kubectl -n demo get pods -o jsonpath='{range .items[*]}{.status.containerStatuses[0].imageID}{"\n"}{end}')
rc=0
node_modules/.bin/node dist/main.js verify --key "$WORK/cosign.pub" --insecure-registry "$R" "${running[@]}" || rc=$?
echo "(exit code $rc: 1 means at least one running image definitely fails)"

say "Installing the CRDs and starting the operator (sigwatch run, logs in $WORK/operator.log)"
kubectl apply -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=30s crd/imagepolicies.sigwatch.dev >/dev/null
kubectl create namespace sigwatch-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
if [ -f "$WORK/operator.pid" ]; then kill "$(cat "$WORK/operator.pid")" 2>/dev/null || true; fi
node_modules/.bin/node dist/main.js run --kubeconfig "$KUBECONFIG" --namespace sigwatch-system \
  --probe-address 127.0.0.1 --probe-port 0 --insecure-registry "$R" --no-leader-election >"$WORK/operator.log" 2>&1 &
echo $! >"$WORK/operator.pid"

say "An Enforce policy for namespace demo: images must be signed with the demo key"
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
  authorities:
    - name: demo-key
      key:
        publicKey: |
EOT
  sed 's/^/          /' "$WORK/cosign.pub"
} >"$WORK/policy.yaml"
kubectl apply -f "$WORK/policy.yaml" >/dev/null
for _ in $(seq 1 100); do
  labelled=$(kubectl -n demo get pods -l sigwatch.dev/compliance -o name | wc -l)
  [ "$labelled" -ge 2 ] && break
  sleep 0.2
done
kubectl -n demo get pods -L sigwatch.dev/compliance
sleep 1.5 # the status is debounced
kubectl get imagepolicies

say "The environment and the operator stay up. In your shell:"
bash hack/testenv up 2>/dev/null | sed 's/^/  /'
cat <<EOT

  then: kubectl -n demo get pods -L sigwatch.dev/compliance; kubectl get ipol demo -o yaml
        npx sigwatch verify --policy $WORK/policy.yaml --insecure-registry $R -o json $R/demo/signed:1.0
  sign the other image, and within a minute (the policy's reverifyInterval) its label turns compliant:
        cosign sign --key $WORK/cosign.key --use-signing-config=false --tlog-upload=false --allow-http-registry --yes $R/demo/unsigned@$UNSIGNED
  stop: make demo-down
EOT
