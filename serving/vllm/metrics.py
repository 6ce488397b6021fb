"""vLLM's own figures from its Prometheus ``/metrics``: prefix-cache hit rate, speculative acceptance, time
to first token, requests, tokens, taken as the difference between two snapshots (before and after a run).

The names are vLLM V1's (``vllm:prefix_cache_hits_total``, ``vllm:spec_decode_num_accepted_tokens_total``,
``vllm:time_to_first_token_seconds_bucket`` ...); a family a server does not export (no draft model: no
``spec_decode``) is ``None`` in the summary. Series are summed over their labels (engines, model names).
"""

from __future__ import annotations

import math
import re
from typing import Any

import httpx

# name{labels} value [timestamp]
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Prometheus text exposition → {(name, sorted label pairs): value}; comments and ``_created`` gauges
    (a series' creation time, not a count) are left out."""
    samples: Samples = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        name, _, labels, raw = match.groups()
        if name.endswith("_created"):
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        pairs = tuple(sorted((k, _unescape(v)) for k, v in _LABEL.findall(labels or "")))
        samples[(name, pairs)] = value
    return samples


def _unescape(value: str) -> str:
    """A label value's escapes (backslash, double quote, newline) undone."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def is_vllm(samples: Samples) -> bool:
    return any(name.startswith("vllm:") for name, _ in samples)


def metrics_url(base_url: str) -> str:
    """An OpenAI base URL (``http://host:8002/v1``) → that server's ``/metrics``."""
    return base_url.rstrip("/").removesuffix("/v1") + "/metrics"


def fetch(url: str, timeout: float = 10.0) -> Samples:
    response = httpx.get(url, timeout=timeout)
    response.raise_for_status()
    return parse(response.text)


def probe(url: str) -> Samples | None:
    """The samples when ``url`` answers with vLLM metrics, else None (not there, not vLLM)."""
    try:
        samples = fetch(url, timeout=3.0)
    except (httpx.HTTPError, OSError):
        return None
    return samples if is_vllm(samples) else None


def delta(before: Samples, after: Samples) -> Samples:
    """What happened between two snapshots: every series of ``after`` less its value in ``before``
    (gauges come out as changes too; only counters and histograms are read from it)."""
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def total(samples: Samples, name: str, **labels: str) -> float | None:
    """The sum of a family's series (those with ``labels``), or None when the server exports none."""
    values = [v for (n, pairs), v in samples.items()
              if n == name and all((k, val) in pairs for k, val in labels.items())]
    return sum(values) if values else None


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for (n, pairs), value in samples.items():
        if n == name:
            key = dict(pairs).get(label, "")
            out[key] = out.get(key, 0.0) + value
    return out


def histogram_quantile(samples: Samples, name: str, q: float) -> float | None:
    """Prometheus' ``histogram_quantile`` over ``name_bucket`` (summed over labels other than ``le``):
    linear interpolation inside the bucket holding the q-th observation; None without observations."""
    buckets: dict[float, float] = {}
    for (n, pairs), value in samples.items():
        if n == f"{name}_bucket":
            le = dict(pairs).get("le")
            if le is not None:
                bound = math.inf if le == "+Inf" else float(le)
                buckets[bound] = buckets.get(bound, 0.0) + value
    if not buckets:
        return None
    bounds = sorted(buckets)
    count = buckets[bounds[-1]]
    if count <= 0:
        return None
    rank = q * count
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        cumulative = buckets[bound]
        if cumulative >= rank:
            if math.isinf(bound):
                return lower_bound  # in the open top bucket: its lower edge, as Prometheus does
            width = cumulative - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / width if width else 1.0)
        lower_bound, lower_count = bound, cumulative
    return lower_bound


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def summary(samples: Samples) -> dict[str, Any]:
    """The figures of one server from a :func:`delta` (or from one snapshot: since start-up)."""
    hits, queries = total(samples, "vllm:prefix_cache_hits_total"), total(samples, "vllm:prefix_cache_queries_total")
    drafts = total(samples, "vllm:spec_decode_num_drafts_total")
    drafted = total(samples, "vllm:spec_decode_num_draft_tokens_total")
    accepted = total(samples, "vllm:spec_decode_num_accepted_tokens_total")
    ttft_n, ttft_sum = (total(samples, "vllm:time_to_first_token_seconds_count"),
                        total(samples, "vllm:time_to_first_token_seconds_sum"))
    e2e_n, e2e_sum = (total(samples, "vllm:e2e_request_latency_seconds_count"),
                      total(samples, "vllm:e2e_request_latency_seconds_sum"))
    return {
        # Requests that produced a first token. A finished-request count alone misses a stream the client
        # closed early (the agent stops reading at a figure it will not show): vLLM counts that abort later.
        "requests": ttft_n,
        "finished": total(samples, "vllm:request_success_total"),
        "finished_by_reason": {k: v for k, v in by_label(samples, "vllm:request_success_total",
                                                          "finished_reason").items() if v},
        "requests_by_model": by_label(samples, "vllm:time_to_first_token_seconds_count", "model_name"),
        "prompt_tokens": total(samples, "vllm:prompt_tokens_total"),
        "generation_tokens": total(samples, "vllm:generation_tokens_total"),
        "prefix_cache": None if queries is None else {
            "queried_tokens": queries, "hit_tokens": hits, "hit_rate": _ratio(hits, queries)},
        "spec_decode": None if drafts is None else {
            "drafts": drafts, "draft_tokens": drafted, "accepted_tokens": accepted,
            "acceptance_rate": _ratio(accepted, drafted),
            # tokens per verification step: the accepted drafts plus the one the target model adds
            "mean_acceptance_length": None if not drafts else 1 + (accepted or 0) / drafts},
        "ttft_s": None if not ttft_n else {
            "count": ttft_n, "mean": ttft_sum / ttft_n,
            "p50": histogram_quantile(samples, "vllm:time_to_first_token_seconds", 0.5),
            "p95": histogram_quantile(samples, "vllm:time_to_first_token_seconds", 0.95)},
        "e2e_s": None if not e2e_n else {
            "count": e2e_n, "mean": e2e_sum / e2e_n,
            "p50": histogram_quantile(samples, "vllm:e2e_request_latency_seconds", 0.5),
            "p95": histogram_quantile(samples, "vllm:e2e_request_latency_seconds", 0.95)},
    }
