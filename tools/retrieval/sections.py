"""Open questions answered by the report's own section: 「简要介绍公司的核心竞争力」 → the text under its
「核心竞争力分析」 heading.

The CSRC templates give every annual report the same headings, so a question that names a topic
(knowledge/topics.toml) is answered with what the report wrote under that heading — its opening
paragraphs up to a length budget, in page order, cited by page — and, where the topic has verdicts
(审计意见), a one-line conclusion read from that text. A topic whose heading the report lacks falls
back to retrieval over all passages.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache

from knowledge.fields import KNOWLEDGE_DIR
from knowledge.headings import MAX_HEADING_CHARS, heading_level, same_or_outer

# Check-box markup and table-of-contents leaders carry no content.
_NOISE = re.compile(r"[√□]\s*(?:不)?适用|\.{4,}|…{2,}")
MAX_ANSWER_CHARS = 500


@dataclass(frozen=True)
class Topic:
    name: str
    asks: tuple[str, ...]
    headings: tuple[str, ...]
    verdicts: tuple[dict, ...] = ()


@lru_cache(maxsize=1)
def topics() -> tuple[Topic, ...]:
    data = tomllib.loads((KNOWLEDGE_DIR / "topics.toml").read_text(encoding="utf-8"))
    return tuple(Topic(t["name"], tuple(t["asks"]), tuple(t["headings"]), tuple(t.get("verdicts", ())))
                 for t in data["topic"])


def topic_of(question: str) -> Topic | None:
    """The topic the question names (the longest ask word found)."""
    best, length = None, 0
    for t in topics():
        for word in t.asks:
            if word in question and len(word) > length:
                best, length = t, len(word)
    return best


@dataclass
class SectionText:
    heading: str
    text: str  # what lies under the heading, up to the budget
    pages: list[int]
    context: str  # the text on to the next outer heading (the siblings too: 强调事项 beside 审计意见)


# A table-of-contents line: dot leaders, or a page number at the end.
_TOC = re.compile(r"[.…·]{4,}|\s\d{1,3}\s*$")
# Punctuation a title does not have: 「情况和发展战略，」 is a clause of a sentence.
_CLAUSE = re.compile(r"[，,。；;：:！？!?]")
# 「□本年度公司有重大诉讼、仲裁事项 √本年度公司无重大诉讼、仲裁事项」: the ticked option is what the report says.
_TICKED = re.compile(r"□[^√□]*√([^√□]*)")
CONTEXT_CHARS = 4000
# The banner some reports print atop every page (「2024 年年度报告」).
_BANNER = re.compile(r"^\s*\d{4}\s*年\s*年度报告\s*$")
# An unnumbered heading ends with the words it is found by, or with them and one of these.
_TITLE_TAILS = ("", "情况", "分析", "说明", "概述")
# A section of at least this many numbered parts opens with their titles.
MIN_PARTS = 2
MIN_BODY_CHARS = 8


def read_section(lines: list[tuple[int, str]], topic: Topic, max_chars: int = MAX_ANSWER_CHARS) -> SectionText | None:
    """The text under the first heading of ``topic`` in ``lines`` ((page, line) in report order), up to
    the next heading of the same or an outer level, at most ``max_chars``. A section made of numbered
    parts (关键审计事项: (一) 收入确认 (二) 存货 …) opens with the list of their titles."""
    for wanted in topic.headings:
        found = [s for i, (page, line) in enumerate(lines) if (s := _under(lines, i, page, line, wanted, max_chars))]
        if found:  # the most specific heading: 「1.3.2 核心竞争力」 over 「1.3 发展战略及核心竞争力」
            return min(found, key=lambda s: len(s.heading))
    return None


def _under(lines: list[tuple[int, str]], i: int, page: int, line: str, wanted: str, max_chars: int) -> SectionText | None:
    """The section under ``lines[i]`` if that line is a heading naming ``wanted``."""
    if wanted not in line or len(line) > MAX_HEADING_CHARS or _TOC.search(line):
        return None
    level = heading_level(line)
    if level is None and (len(line) > len(wanted) + 6 or _CLAUSE.search(line)
                          or not line.strip().endswith(tuple(wanted + tail for tail in _TITLE_TAILS))):
        return None  # a sentence or a table cell mentioning the words, not their heading
    body, pages, context, parts, open_body = [], [page], [], [], True
    part_level = None
    for next_page, text in lines[i + 1:]:
        if text.strip() == line.strip() or _BANNER.match(text):
            continue  # the page's running header repeats the heading
        next_level = heading_level(text)
        if level and next_level in same_or_outer(level):
            open_body = False
            if next_level != level:
                break
        if open_body and next_level not in (None, level, "section") and part_level in (None, next_level):
            part_level = next_level
            parts.append(text.strip())
        text = _NOISE.sub("", _TICKED.sub(lambda m: m.group(1), text)).strip()
        if not text:
            continue
        context.append(text)
        if open_body and sum(map(len, body)) < max_chars:
            body.append(text)
            if next_page not in pages:
                pages.append(next_page)
        if sum(map(len, context)) >= CONTEXT_CHARS:
            break
    joined = "".join(body)
    if len(joined) >= MIN_BODY_CHARS:
        if len(parts) >= MIN_PARTS:
            joined = "主要包括：" + "；".join(parts) + "。" + joined
        return SectionText(line, _cut(joined, max_chars), pages, "".join(context))
    return None


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    end = max(text.rfind(p, 0, max_chars) for p in "。；")
    return text[: end + 1] if end > max_chars // 3 else text[:max_chars] + "……"


def verdict(topic: Topic, text: str) -> str:
    for rule in topic.verdicts:
        if all(w in text for w in rule["words"]) and not any(w in text for w in rule.get("unless", ())):
            return rule["sentence"]
    return ""
