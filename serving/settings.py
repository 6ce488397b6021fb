"""Settings of the HTTP service only (keys, limits, pool sizes); read from ``NIANBAO_SERVE_*``.

Kept apart from :mod:`knowledge.configuration` so the agent knows nothing about HTTP. Lists come from the
environment as JSON: ``NIANBAO_SERVE_API_KEYS='["k1", "k2"]'``.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NIANBAO_SERVE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # Empty = no authentication (a trusted network); otherwise "Authorization: Bearer <key>" or "X-API-Key".
    api_keys: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(16 * 1024, ge=256)
    max_question_chars: int = Field(500, ge=1)
    # Token bucket per verified API key (per client address when no keys are configured: a key sent then
    # proves nothing): sustained requests per second and the burst allowed on top. 0 disables the limit.
    rate_per_s: float = Field(20.0, ge=0)
    rate_burst: int = Field(60, ge=1)
    # Failed authentication (401), per client address, whatever key it sent: once an address has spent
    # this budget it is refused (429) until it refills, so key guesses are slowed to this rate. Always on.
    auth_failures_per_s: float = Field(1.0, gt=0)
    auth_failure_burst: int = Field(20, ge=1)
    # Slow clients: the request line and headers must arrive within header_timeout_s of the connection
    # (or of the first byte of a next request on a kept-alive one), else the connection closes; the body
    # within body_timeout_s of the route starting to read it, else 408. An idle kept-alive connection
    # closes after keep_alive_s.
    header_timeout_s: float = Field(10.0, gt=0)
    body_timeout_s: float = Field(15.0, gt=0)
    keep_alive_s: int = Field(30, ge=1)
    # Arrays and objects nested deeper than this are refused (400) before the body is parsed.
    max_json_depth: int = Field(32, ge=2)
    # Threads that run a blocking agent (one without ask_astream; agent.service runs on the event loop
    # and uses none): one per in-flight conversation, so they never queue behind each other.
    worker_threads: int = Field(256, ge=1)
    # Threads remembered for GET /v1/threads/{id} (this process only; the checkpointer holds the state).
    thread_log_size: int = Field(10_000, ge=0)
    public_model: str = "nianbao"
    # The module whose ask / ask_stream answer questions. "serving.testing.passthrough_agent" (straight to the
    # answer LLM) isolates the HTTP layer in load tests; "serving.testing.fake_agent" needs no LLM at all.
    agent: str = "agent.service"
    # Build the agent's indexes and graph at startup, so the first questions do not wait for them.
    warm_up: bool = True
    # The garbage collector's thresholds in a serving process (empty: Python's default, 700/10/10).
    # Measured with `nianbao bench load -n 128` on 2 cores: the collector's time fell from 0.43-0.74 s to
    # 0.10-0.20 s per run, its longest pause from 58-98 ms to 9-31 ms, and the p95 overhead with it.
    gc_thresholds: list[int] = Field(default_factory=lambda: [10_000, 20, 20], max_length=3)
