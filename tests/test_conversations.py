"""Issue 6: scripted multi-turn analyst conversations resolve each follow-up correctly."""

from __future__ import annotations

import json
from pathlib import Path

from agent.service import ask

CONVERSATIONS = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "conversations.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def test_the_set_is_large_enough():
    assert len(CONVERSATIONS) >= 30
    assert all(3 <= len(c["turns"]) <= 5 for c in CONVERSATIONS)


def _check_turn(result: dict, expect: dict) -> list[str]:
    errors = []
    if "company" in expect and (result.get("company") or {}).get("code") != expect["company"]:
        errors.append(f"company {result.get('company')} != {expect['company']}")
    if "companies" in expect:
        got = sorted(c["code"] for c in result.get("companies") or [])
        if got != sorted(expect["companies"]):
            errors.append(f"companies {got} != {expect['companies']}")
    if "years" in expect and result.get("years") != expect["years"]:
        errors.append(f"years {result.get('years')} != {expect['years']}")
    if "fields" in expect and result.get("fields") != expect["fields"]:
        errors.append(f"fields {result.get('fields')} != {expect['fields']}")
    if "intent" in expect and result.get("intent") != expect["intent"]:
        errors.append(f"intent {result.get('intent')} != {expect['intent']}")
    if "formula" in expect and (result.get("formula") or {}).get("name") != expect["formula"]:
        errors.append(f"formula {(result.get('formula') or {}).get('name')} != {expect['formula']}")
    return errors


def test_every_follow_up_resolves(reports_settings):
    failures = []
    for n, conversation in enumerate(CONVERSATIONS):
        thread = f"conv-{n}"
        for turn in conversation["turns"]:
            result = ask(turn["q"], thread_id=thread, settings=reports_settings)
            errors = _check_turn(result, turn["expect"])
            if errors:
                failures.append(f"#{n} {turn['q']}: {'; '.join(errors)} → {result.get('answer')}")
    assert not failures, "\n".join(failures)


def test_threads_do_not_leak(reports_settings):
    ask("四方科技2019年的货币资金是多少元？", thread_id="a", settings=reports_settings)
    ask("生物股份2020年的存货是多少元？", thread_id="b", settings=reports_settings)
    follow_a = ask("那2018年呢？", thread_id="a", settings=reports_settings)
    follow_b = ask("那2019年呢？", thread_id="b", settings=reports_settings)
    assert follow_a["company"]["code"] == "603339" and follow_a["fields"] == ["货币资金"]
    assert follow_b["company"]["code"] == "600201" and follow_b["fields"] == ["存货"]
    # A new thread has no context to resolve against.
    fresh = ask("那2018年呢？", thread_id="c", settings=reports_settings)
    assert "未" in fresh["answer"]
