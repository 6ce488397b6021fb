"""The attack suite, small: hostile questions through the Python API and HTTP leave the database as it
was, crash nothing, invent no number, leak no thread across tenants or threads, and a hung or dripping
LLM endpoint does not hold a turn past the turn deadline. (``python -m benchmarks.attack_suite`` runs the
full suite and prints the figures.)"""

from __future__ import annotations

from benchmarks.attack_suite import run


def test_the_attack_suite_finds_nothing(tmp_path):
    report = run(48, 0, http=True, endpoints=True, home=tmp_path / "home", deadlines=(1.5, 3.0))
    for surface in ("python", "http"):
        figures = report[surface]
        assert figures["tried"] == 48
        assert (figures["crashes"], figures["invented_numbers"]) == (0, 0), figures["examples"]
    assert report["database_changed"] is False
    assert report["cross_thread_reads"] == 0
    http = report["http"]
    assert http["odd_requests"]["crashes"] == 0
    assert http["tenants"]["cross_tenant_reads"] == 0
    assert http["wrong_keys_limited"] > 0  # failed authentication is rate-limited too
    endpoints = report["llm_endpoints"]
    deadline = endpoints["turn_deadline_s"]
    for mode in ("hang", "drip"):
        assert endpoints[mode]["crashes"] == 0
        assert endpoints[mode]["max_turn_s"] <= deadline + 3, endpoints  # + the deterministic answer (a first index build)
