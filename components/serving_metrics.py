"""The Prometheus metrics each serving engine really exports, by version, with where each list was read.

The dashboard (components/dashboards/model-serving.json) and the alert rules (components/cluster_monitoring.py)
may name only these; tests/test_monitoring.py parses every query and checks. Counters are listed as exposed
(with `_total`), histograms by their base name (Prometheus adds `_bucket`, `_sum`, `_count`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Engine:
    name: str
    source: str
    counters: frozenset[str]
    gauges: frozenset[str]
    histograms: frozenset[str]
    # The metrics the alerts and the dashboard's headline panels use; None where the engine has no such metric.
    generated_tokens: str
    waiting: str
    ttft: str | None
    finished_requests: str | None
    kv_cache: str | None
    kv_cache_later: str | None = None
    """The KV-cache gauge's name in the next vLLM, where AKS may upgrade this engine in place: alerts ask for both."""

    def exposes(self, name: str) -> bool:
        if name in self.counters or name in self.gauges:
            return True
        base, _, suffix = name.rpartition("_")
        return suffix in ("bucket", "sum", "count") and base in self.histograms


_VLLM_COMMON = {
    # http_requests_total: prometheus-fastapi-instrumentator on the same app (vllm-project/vllm@v0.9.0:vllm/
    # entrypoints/openai/api_server.py, @v0.25.1:vllm/entrypoints/serve/instrumentator/metrics.py).
    "counters": {"vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:request_success_total",
                 "vllm:num_preemptions_total", "http_requests_total"},
    "gauges": {"vllm:num_requests_running", "vllm:num_requests_waiting"},
    "histograms": {"vllm:time_to_first_token_seconds", "vllm:e2e_request_latency_seconds",
                   "vllm:request_queue_time_seconds", "vllm:request_prefill_time_seconds",
                   "vllm:request_decode_time_seconds", "vllm:request_prompt_tokens",
                   "vllm:request_generation_tokens"},
}

# KAITO 0.6.0 (the AKS add-on) pins vllm==0.9.0 (kaito-project/kaito@v0.6.0:presets/workspace/dependencies/
# requirements.txt); names from vllm-project/vllm@v0.9.0:vllm/v1/metrics/loggers.py (labels model_name, engine).
VLLM_0_9 = Engine(
    name="vLLM 0.9.0 (KAITO 0.6.0)",
    source="vllm-project/vllm@v0.9.0:vllm/v1/metrics/loggers.py",
    counters=frozenset(_VLLM_COMMON["counters"] | {"vllm:gpu_prefix_cache_queries_total",
                                                   "vllm:gpu_prefix_cache_hits_total"}),
    gauges=frozenset(_VLLM_COMMON["gauges"] | {"vllm:gpu_cache_usage_perc"}),
    histograms=frozenset(_VLLM_COMMON["histograms"] | {"vllm:time_per_output_token_seconds"}),
    generated_tokens="vllm:generation_tokens_total", waiting="vllm:num_requests_waiting",
    ttft="vllm:time_to_first_token_seconds", finished_requests="vllm:request_success_total",
    kv_cache="vllm:gpu_cache_usage_perc",
    # AKS upgrades the add-on's KAITO (and so its vLLM) itself; newer vLLM calls the gauge vllm:kv_cache_usage_perc
    # (vllm-project/vllm@v0.25.1:vllm/v1/metrics/loggers.py), so the add-on's alert must not go blind then.
    kv_cache_later="vllm:kv_cache_usage_perc",
)
# KAITO 0.12.0 pins vllm==0.25.1 (kaito-project/kaito@v0.12.0:presets/workspace/dependencies/requirements.txt);
# vllm-project/vllm@v0.25.1:vllm/v1/metrics/loggers.py renamed the KV-cache gauge and the per-token histogram.
VLLM_0_25 = Engine(
    name="vLLM 0.25.1 (KAITO 0.12.0)",
    source="vllm-project/vllm@v0.25.1:vllm/v1/metrics/loggers.py",
    counters=frozenset(_VLLM_COMMON["counters"] | {"vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total"}),
    gauges=frozenset(_VLLM_COMMON["gauges"] | {"vllm:kv_cache_usage_perc"}),
    histograms=frozenset(_VLLM_COMMON["histograms"] | {"vllm:inter_token_latency_seconds",
                                                       "vllm:request_time_per_output_token_seconds"}),
    generated_tokens="vllm:generation_tokens_total", waiting="vllm:num_requests_waiting",
    ttft="vllm:time_to_first_token_seconds", finished_requests="vllm:request_success_total",
    kv_cache="vllm:kv_cache_usage_perc",
)
# The CPU profile's llama.cpp server b8840, with --metrics (vex9z7/llama.cpp-stack@23793e2d:llamacpp-upstream/
# tools/server/server-context.cpp, the b8840 sources): no labels, no latency histograms, no error counter, and
# no KV-cache gauge (its README lists one the code never emits).
LLAMA_CPP = Engine(
    name="llama.cpp server b8840 (CPU profile)",
    source="vex9z7/llama.cpp-stack@23793e2d96132415a649325db1b46306c62bc276:llamacpp-upstream/tools/server",
    counters=frozenset({"llamacpp:prompt_tokens_total", "llamacpp:prompt_seconds_total",
                        "llamacpp:tokens_predicted_total", "llamacpp:tokens_predicted_seconds_total",
                        "llamacpp:n_decode_total"}),
    gauges=frozenset({"llamacpp:prompt_tokens_seconds", "llamacpp:predicted_tokens_seconds",
                      "llamacpp:requests_processing", "llamacpp:requests_deferred", "llamacpp:n_tokens_max",
                      "llamacpp:n_busy_slots_per_decode"}),
    histograms=frozenset(),
    generated_tokens="llamacpp:tokens_predicted_total", waiting="llamacpp:requests_deferred",
    ttft=None, finished_requests=None, kv_cache=None,
)
ENGINES = (VLLM_0_9, VLLM_0_25, LLAMA_CPP)

# Not engines, but on the dashboard: Prometheus's own `up` for every scraped target; NVIDIA DCGM exporter's GPU
# fields where a GPU exporter runs (NVIDIA/dcgm-exporter@4.5.3-4.8.2:etc/default-counters.csv: FB_USED and FB_FREE
# in MiB); Envoy AI Gateway's token usage per team (envoyproxy/ai-gateway@v1.1.0:internal/metrics/genai.go,
# gen_ai.client.token.usage, a histogram, with the team.id attribute the gateway is told to add).
OTHER_METRICS = frozenset({"up", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE",
                           "gen_ai_client_token_usage_sum", "gen_ai_client_token_usage_count",
                           "gen_ai_client_token_usage_bucket"})


def known_metric(name: str) -> bool:
    return name in OTHER_METRICS or any(engine.exposes(name) for engine in ENGINES)
