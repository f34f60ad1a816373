"""Container images kaito-aks runs itself, pinned by digest (KAITO's own images are pinned by its version).

Each reference is `<repository>:<tag>@sha256:<digest>`: the runtime pulls by the digest, the tag says what it
is. The digest is the multi-platform index's. To move to a new tag, resolve its digest where the registry is
reachable and replace both parts (docs/IMAGES.md):

    docker buildx imagetools inspect <repository>:<tag> --format '{{json .Manifest.Digest}}'
"""

# The demo app and the smoke test are standard-library Python, mounted from ConfigMaps: a stock image.
# Digest: docker-library/repo-info's record of the tag (repos/python/remote/3.12.7-slim-bookworm.md, the
# 2024-11-12 rebuild; linux/amd64 sha256:311c6c7090a52874c9118ad17dc95cd7d030dd8ec13ab96fe23f26b8e74a3823),
# kept in the fork maxmood96/repo-info@a63ed00e7c771372b432826fdf8163402b776e9f since the tag was retired.
PYTHON_IMAGE = (
    "python:3.12.7-slim-bookworm@sha256:1537292c94af279c9429d6b0bfa9b46812d24f4e1f25dcc4e2a699738f75f592"
)

# Serves the CPU profile's model (OpenAI-compatible, /health), from the llama.cpp release b8840. ggml-org's
# release workflow publishes tags only; this index digest (linux/amd64 sha256:1a706b41321c3d3e570b9a63cc768039f7bfe
# 0487070ff6cf790f892b8e74831) is the one recorded for the tag in vex9z7/llama.cpp-stack@23793e2d96132415a649325db1b46
# 306c62bc276:llamacpp-upstream/SNAPSHOT. Verify it before the first deploy (docs/IMAGES.md).
LLAMA_CPP_SERVER_IMAGE = (
    "ghcr.io/ggml-org/llama.cpp:server-b8840@sha256:99d2554c4c8d5339649dde530056cf10771823d7cd983dbd0441da9c419976b1"
)

# The front door's rate-limit counters (Envoy Gateway's global rate limit keeps them in Redis), the image
# Envoy AI Gateway's own example runs (envoyproxy/ai-gateway@v1.1.0:examples/token_ratelimit/redis.yaml).
# Digest: docker-library/repo-info's record of the tag (repos/redis/remote/8.2.4-alpine3.22.md, multi-platform
# index; linux/amd64 sha256:9189e09a0da398da80a6525d91eecaac3739eb3503e8c5f15792b7a5457022c0), kept in the fork
# maxmood96/repo-info@21b8c420ef8e06baffad2ed33be8b9017c0e088c.
REDIS_IMAGE = "redis:8.2.4-alpine3.22@sha256:a308ca111032fa8f306a2dc7be7ba5deb8b777ed5d258c733cddba48a1fd7904"

# GPU use and memory on the model's GPU nodes (components/gpu_metrics.py): NVIDIA's DCGM exporter, the tag its
# Helm chart at NVIDIA/dcgm-exporter@4.5.3-4.8.2 (deployment/values.yaml) runs. NVIDIA publishes no digest list
# reachable from here; this index digest is the one several independent projects pin for the tag (found with the
# search corpus). Verify it before the first deploy of a GPU stack (docs/IMAGES.md).
DCGM_EXPORTER_IMAGE = (
    "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless"
    "@sha256:60d3b00ac80b4ae77f94dae2f943685605585ad9e92fdccda3154d009ae317cc"
)
