"""Prometheus metrics, in a registry per app so several apps (tests) never collide."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds; the low buckets resolve the service's own overhead, the high ones a slow 32B answer.
_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, mode: str) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("nianbao_requests", "HTTP requests", ["endpoint", "status"], registry=r)
        self.latency = Histogram("nianbao_request_latency_seconds", "Time to the complete answer", ["endpoint"], buckets=_BUCKETS, registry=r)
        self.ttft = Histogram("nianbao_time_to_first_token_seconds", "Time to the first answer token", ["endpoint"], buckets=_BUCKETS, registry=r)
        self.errors = Counter("nianbao_errors", "Errors by kind", ["endpoint", "kind"], registry=r)
        self.answers = Counter("nianbao_answers", "Answers by mode (llm / embedded / fallback)", ["mode"], registry=r)
        self.in_flight = Gauge("nianbao_in_flight", "Conversations being answered now", registry=r)
        self.mode = Gauge("nianbao_mode", "Configured mode (1 for the active one)", ["mode"], registry=r)
        self.mode.labels(mode=mode).set(1)

    def error(self, endpoint: str, kind: str) -> None:
        self.errors.labels(endpoint=endpoint, kind=kind).inc()

    def answered(self, result: dict) -> None:
        mode = str(result.get("mode") or "unknown")
        self.answers.labels(mode="fallback" if result.get("fallback_reason") else mode).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
