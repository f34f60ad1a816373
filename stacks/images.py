"""Container images kaito-aks runs itself, pinned (KAITO's own images are pinned by its version)."""

# The demo app and the smoke test are standard-library Python, mounted from ConfigMaps: a stock image.
PYTHON_IMAGE = "python:3.12.7-slim-bookworm"

# Serves the CPU profile's model (OpenAI-compatible, /health), from the llama.cpp release b8840.
LLAMA_CPP_SERVER_IMAGE = "ghcr.io/ggml-org/llama.cpp:server-b8840"
