#!/usr/bin/env bash
# hack/cluster/oci-image.sh ROOTFS_DIR IMAGE_REF OUT_TAR [CONFIG_JSON_FRAGMENT]
# Writes an OCI image-layout tarball (one uncompressed layer) from a rootfs directory, with
# index.json annotated io.containerd.image.name=IMAGE_REF so `ctr -n k8s.io images import OUT_TAR`
# stores it under exactly that name. CONFIG_JSON_FRAGMENT is merged into .config
# (e.g. '{"Entrypoint":["/bin/sh"],"User":"65532"}').
set -euo pipefail
rootfs=$1 ref=$2 out=$3 cfg=${4:-'{}'}
tag=${ref##*:}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"
# deterministic layer: sorted names, numeric root owner unless the tree says otherwise
tar --sort=name --mtime=@0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
layer_sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
layer_size=$(stat -c %s "$work/layer.tar")
mv "$work/layer.tar" "$work/blobs/sha256/$layer_sha"
jq -n --argjson c "$cfg" --arg d "sha256:$layer_sha" '{
  architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
  config: ({Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]} + $c),
  rootfs: {type: "layers", diff_ids: [$d]},
  history: [{created: "1970-01-01T00:00:00Z", created_by: "oci-image.sh"}]}' >"$work/config.json"
cfg_sha=$(sha256sum "$work/config.json" | cut -d' ' -f1)
cfg_size=$(stat -c %s "$work/config.json")
mv "$work/config.json" "$work/blobs/sha256/$cfg_sha"
jq -n --arg cd "sha256:$cfg_sha" --argjson cs "$cfg_size" --arg ld "sha256:$layer_sha" --argjson ls "$layer_size" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $ld, size: $ls}]}' | jq -c . >"$work/manifest.json"
m_sha=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
m_size=$(stat -c %s "$work/manifest.json")
mv "$work/manifest.json" "$work/blobs/sha256/$m_sha"
jq -n --arg md "sha256:$m_sha" --argjson ms "$m_size" --arg ref "$ref" --arg tag "$tag" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
    platform: {architecture: "amd64", os: "linux"},
    annotations: {"io.containerd.image.name": $ref, "org.opencontainers.image.ref.name": $tag}}]}' >"$work/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
tar --sort=name --mtime=@0 --numeric-owner -C "$work" -cf "$out" oci-layout index.json blobs
echo "$out: $ref manifest sha256:$m_sha layer $((layer_size / 1024)) KiB" >&2
