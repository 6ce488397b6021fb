"""Open questions answered by the report's own section: 「简要介绍公司的核心竞争力」 → the text under its
「核心竞争力分析」 heading.

The CSRC templates give every annual report the same headings, so a question that names a topic
(knowledge/topics.toml) is answered with what the report wrote under that heading — its opening
paragraphs up to a length budget, in page order, cited by page — and, where the topic has verdicts
(审计意见), a one-line conclusion read from that text. A section made of parts opens with their titles:
numbered sub-headings (3.6.1 信用风险 …), or the rows of a table (a big-four 关键审计事项 table). A
topic whose heading the report lacks falls back to retrieval over all passages.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from knowledge.fields import KNOWLEDGE_DIR
from knowledge.headings import MAX_HEADING_CHARS, heading_level, ordinal, same_or_outer

# Check-box markup and table-of-contents leaders carry no content.
_NOISE = re.compile(r"[√□]\s*(?:不)?适用|\.{4,}|…{2,}")
MAX_ANSWER_CHARS = 500


@dataclass(frozen=True)
class Topic:
    name: str
    asks: tuple[str, ...]
    headings: tuple[str, ...]
    verdicts: tuple[dict, ...] = ()
    parts: tuple[str, ...] = ()  # a part titled with these words answers better than its whole section
    table_headers: tuple[str, ...] = ()  # a table header row whose rows' titles are the section's parts
    boilerplate: tuple[str, ...] = ()  # openings of standard paragraphs that say nothing of this report


@lru_cache(maxsize=1)
def topics() -> tuple[Topic, ...]:
    data = tomllib.loads((KNOWLEDGE_DIR / "topics.toml").read_text(encoding="utf-8"))
    return tuple(Topic(t["name"], tuple(t["asks"]), tuple(t["headings"]), tuple(t.get("verdicts", ())),
                       tuple(t.get("parts", ())), tuple(t.get("table_headers", ())), tuple(t.get("boilerplate", ())))
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
    part_lines: list[int] = field(default_factory=list, repr=False)  # where its numbered parts stand


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
# 「三、关键审计事项（续）」, 「审计报告（续）」: a page's label that a table or section runs on from the last.
_CONTINUED = re.compile(r"[(（]续[)）]")
_CONTINUED_TITLE = re.compile(r"^(.{4,40}?)[(（]续[)）]")
_CONTINUED_LABEL = re.compile(r"[(（]续[)）]\s*$")
# A page's running header (「第三章 管理层讨论与分析」 atop every page of the chapter) is a line printed on at
# least this many pages; its first print is the chapter's own heading, the later ones are no heading.
RUNNING_PAGES = 3
# A table row's title standing on a line of its own (「结构化主体合并评估」).
ROW_TITLE_CHARS = (4, 30)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def read_section(lines: list[tuple[int, str]], topic: Topic, max_chars: int = MAX_ANSWER_CHARS) -> SectionText | None:
    """The text under the first heading of ``topic`` in ``lines`` ((page, line) in report order), up to
    the next heading of the same or an outer level, at most ``max_chars``. A section made of parts
    (关键审计事项: (一) 收入确认 (二) 存货 …) opens with the list of their titles; a part titled with the
    topic's ``parts`` words (1.2 从事的主要业务 › 1.2.2 从事的主要业务) is read instead of the whole."""
    skip = running_repeats(lines)
    for wanted in topic.headings:
        found = [s for i in range(len(lines)) if i not in skip and (s := _under(lines, i, wanted, topic, max_chars, skip))]
        if found:  # the most specific heading: 「1.3.2 核心竞争力」 over 「1.3 发展战略及核心竞争力」
            best = min(found, key=lambda s: len(s.heading))
            return _titled_part(lines, best, topic, max_chars, skip) or best
    return None


def running_repeats(lines: list[tuple[int, str]]) -> set[int]:
    """Indices of the lines of a running header: all of them, but for a heading's first print."""
    pages_of: dict[str, set[int]] = defaultdict(set)
    for page, line in lines:
        if len(line.strip()) <= MAX_HEADING_CHARS:
            pages_of[line.strip()].add(page)
    first: dict[str, int] = {}
    out = set()
    for i, (page, line) in enumerate(lines):
        key = line.strip()
        if len(pages_of.get(key, ())) < RUNNING_PAGES:
            continue
        if heading_level(key) is None or first.setdefault(key, page) != page:
            out.add(i)
    return out


def _titled_part(lines, section: SectionText, topic: Topic, max_chars: int, skip: set[int]) -> SectionText | None:
    """The part of ``section`` whose title ends with one of the topic's ``parts`` words, read as a section."""
    for k in section.part_lines:
        title = lines[k][1].strip()
        word = next((w for w in topic.parts if title.endswith(w)), None)
        if word and (part := _under(lines, k, word, topic, max_chars, skip)):
            return part
    return None


def _is_heading_of(line: str, wanted: str) -> bool:
    """Whether ``line`` is a heading naming ``wanted`` (not a sentence, a table cell or a TOC line)."""
    if wanted not in line or len(line) > MAX_HEADING_CHARS or _TOC.search(line) or _CONTINUED.search(line):
        return False
    if heading_level(line) is not None:
        return True
    return (len(line) <= len(wanted) + 6 and not _CLAUSE.search(line)
            and line.strip().endswith(tuple(wanted + tail for tail in _TITLE_TAILS)))


def _same_heading(text: str, heading: str) -> bool:
    """The heading printed again: atop the next page, or as 「三、关键审计事项（续）」."""
    return _CONTINUED.sub("", text).strip() == heading.strip()


@dataclass
class _Reading:
    """What the scan of one section has collected so far."""
    pages: list[int]
    body: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    numbered: list[int] = field(default_factory=list)  # line indices of the numbered parts
    rows: list[str] = field(default_factory=list)  # titles of a table's rows
    body_chars: int = 0
    context_chars: int = 0
    in_table: bool = False

    def add(self, text: str, page: int, open_body: bool, boilerplate: tuple[str, ...], max_chars: int) -> None:
        if self.context_chars < CONTEXT_CHARS:
            self.context.append(text)
            self.context_chars += len(text)
        if open_body and self.body_chars < max_chars and not text.startswith(boilerplate):
            self.body.append(text)
            self.body_chars += len(text)
            if page not in self.pages:
                self.pages.append(page)


def _under(lines: list[tuple[int, str]], i: int, wanted: str, topic: Topic, max_chars: int,
           skip: set[int]) -> SectionText | None:
    """The section under ``lines[i]`` if that line is a heading naming ``wanted``. A numbered section is
    scanned to its end for its parts; an unnumbered one, whose end no heading marks, to the context budget."""
    page, line = lines[i]
    if not _is_heading_of(line, wanted):
        return None
    level = heading_level(line)
    r = _Reading([page])
    open_body, part_level = True, None
    for k in range(i + 1, len(lines)):
        next_page, text = lines[k]
        text = text.strip()
        if open_body and _table_header(text, topic, r):
            continue  # (checked first: the header row repeats atop each page of the table)
        if k in skip or _same_heading(text, line) or _BANNER.match(text) or _is_continuation_label(text):
            continue
        next_level = heading_level(text)
        if level and next_level in same_or_outer(level):
            open_body = False
            if next_level != level:
                break
        if r.context_chars >= CONTEXT_CHARS and (level is None or not open_body):
            break
        if open_body and r.in_table:
            text = _row_title(text, r)
        if open_body and not r.in_table and next_level not in (None, level, "section") and part_level in (None, next_level):
            part_level = next_level
            r.numbered.append(k)
        text = _NOISE.sub("", _TICKED.sub(lambda m: m.group(1), text)).strip()
        if text:
            r.add(text, next_page, open_body, topic.boilerplate, max_chars)
    joined = "".join(r.body)
    if len(joined) < MIN_BODY_CHARS:
        return None
    numbered = _in_order(lines, r.numbered)
    titles = r.rows if r.in_table else [lines[k][1].strip() for k in numbered]
    if len(titles) >= MIN_PARTS:
        joined = "主要包括：" + "；".join(titles) + "。" + joined
    return SectionText(line, _cut(joined, max_chars), r.pages, "".join(r.context), numbered)


def _is_continuation_label(text: str) -> bool:
    """「审计报告（续）」 on a line of its own: the page goes on with what the last one began."""
    return len(text) <= MAX_HEADING_CHARS and _CONTINUED_LABEL.search(text) is not None


def _table_header(text: str, topic: Topic, r: _Reading) -> bool:
    """The header row of a table of the section's parts (关键审计事项 | 该事项在审计中是如何应对的): it starts
    the table and is no content."""
    if any(h in text for h in topic.table_headers):
        r.in_table = True
        return True
    return False


def _row_title(text: str, r: _Reading) -> str:
    """Notes a table row's title: a short line of its own that opens the row, or the words before 「（续）」
    where the row runs on from the last page. Returns the line's content (a repeated title is none)."""
    m = _CONTINUED_TITLE.match(text)
    title = m.group(1).strip() if m else text
    short, long = ROW_TITLE_CHARS
    if (m or short <= len(title) <= long) and not _CLAUSE.search(title) and heading_level(title) is None \
            and _CJK.match(title):
        if title not in r.rows:
            r.rows.append(title)
        if m:
            return text[m.end():].strip()
    return text


def _in_order(lines: list[tuple[int, str]], parts: list[int]) -> list[int]:
    """The parts while their numbers rise: a number that does not (1. 2. 4. 1.) starts a list nested in
    one of them, not a part of the section."""
    out, last = [], 0
    for k in parts:
        n = ordinal(lines[k][1])
        if n is None or n <= last:
            break
        out.append(k)
        last = n
    return out


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
