"""公司简介 / 基本情况: company names, code, legal representative, addresses, contacts, exchange, auditor.

Three table shapes occur: label | value rows (most of it); the contacts table, whose columns are
董事会秘书 | 证券事务代表 and rows 姓名 / 电话 / 传真 / 电子信箱; and the 股票简况 table, a header row of
labels over a row of values. Grouped rows ("公司聘请的会计师事务所 | 名称 | 天健…") take the value of the
名称 sub-row only, so the auditor's 办公地址 never becomes the company's.
"""

from __future__ import annotations

import re

from ingestion.keyvalue import (
    NONE_TEXT,
    Collector,
    collect,
    join_wrapped,
    resolver_for,
    scan_row,
    typed_value,
)
from ingestion.tables import PageTable
from knowledge.store import Value

# Contacts table: column header → field of the 姓名 row; row label → field (电子信箱 there is the
# secretary's mailbox, not the company's, so it is not taken).
CONTACT_COLUMNS = {"董事会秘书": "董事会秘书", "证券事务代表": "证券事务代表"}
CONTACT_ROWS = {"电话": "联系电话", "传真": "传真"}
GROUP_SUBLABELS = ("名称",)  # the sub-row of a group whose value names the group's field
SUBLABELS = ("名称", "办公地址", "签字会计师姓名", "签字的保荐代表人姓名", "持续督导的期间", "签字的财务顾问主办人姓名")
# Province and city from the registered address.
_MUNICIPALITY = re.compile(r"^(北京|上海|天津|重庆)市?")
_PROVINCE = re.compile(r"^(.{2,8}?(?:省|自治区))")
_CITY = re.compile(r"^(.{2,8}?(?:市|自治州|地区|盟))")
_QUALIFIER = re.compile(r"\((?:境内|境外|如有)\)$")
# Addresses: a cell may list several, one a line ("中国广东省深圳市深南东路 5047 号" / "中国广东省…B 座"); a
# line that starts an address again is another address, joined with "；" (a wrapped line joins directly).
ADDRESS_FIELDS = ("注册地址", "办公地址")
_ADDRESS_START = re.compile(r"^(?:中国|中华人民共和国|北京市|上海市|天津市|重庆市|[^\s市]{2,7}(?:省|自治区))")
_ADDRESS_END = re.compile(r"[号座室层楼厦)）]$")
# In the text layer the contacts block reads "电子信箱 <secretary's mailbox>": the text fallback skips it.
_CONTACT_BLOCK = re.compile(r"联系人和联系方式.*?(?=基本情况简介|$)", re.S)


def _label(cell: str) -> str:
    return _QUALIFIER.sub("", join_wrapped(cell).replace("（", "(").replace("）", ")"))


def _contact_table(rows: list[list[str]], page: int, found: Collector) -> bool:
    header = next((r for r in rows if sum(1 for c in r if _label(c) in CONTACT_COLUMNS) >= 1 and _label(r[0]) == ""), None)
    if header is None:
        return False
    cols = {i: CONTACT_COLUMNS[_label(c)] for i, c in enumerate(header) if _label(c) in CONTACT_COLUMNS}
    for row in rows:
        label = _label(row[0])
        for i, name in cols.items():
            if i >= len(row) or join_wrapped(row[i]) in NONE_TEXT:
                continue
            if label == "姓名":
                found.add(Value(name, join_wrapped(row[i]), page=page, raw_label=f"{name}/姓名", raw_text=row[i].strip()))
            elif label in CONTACT_ROWS and name == "董事会秘书":
                found.add(Value(CONTACT_ROWS[label], join_wrapped(row[i]), page=page, raw_label=label, raw_text=row[i].strip()))
    return True


def _address_list(cell: str) -> str:
    """A cell of one address per line as "a；b"; any other cell unchanged (its lines join as wrapped)."""
    lines = [ln.strip() for ln in (cell or "").splitlines() if ln.strip()]
    if len(lines) < 2 or not all(_ADDRESS_START.match(ln) for ln in lines) or \
            not all(_ADDRESS_END.search(ln) for ln in lines[:-1]):
        return cell
    return "；".join(lines)


def _horizontal_table(rows: list[list[str]], page: int, resolve, found: Collector) -> bool:
    """A header row of ≥3 field labels over one row of values (公司股票简况)."""
    for k, row in enumerate(rows[:-1]):
        defs = [resolve(_label(c)) if c.strip() else None for c in row]
        if sum(1 for d in defs if d) >= 3:
            values = rows[k + 1]
            for fdef, cell, raw in zip(defs, row, values):
                if fdef is not None:
                    found.add(typed_value(fdef, raw, page, _label(cell)))
            return True
    return False


def _rows(rows: list[list[str]], page: int, resolve, found: Collector) -> None:
    group = None
    for row in rows:
        first = _label(row[0]) if row else ""
        if first:
            group = first
        filled = [i for i, c in enumerate(row) if c.strip()]
        nonempty = [row[i] for i in filled]
        # A sub-label in the first column is a row's own label (银行: 办公地址 | … | | ).
        if len(row) >= 3 and len(nonempty) >= 2 and filled[-2] > 0 and _label(nonempty[-2]) in SUBLABELS:
            # A grouped row: group | sub-label | value.
            sub = _label(nonempty[-2])
            fdef = resolve(group) if group else None
            if fdef is not None and sub in GROUP_SUBLABELS:
                found.add(typed_value(fdef, nonempty[-1], page, f"{group}/{sub}"))
            continue
        for fdef, label, raw in scan_row(row, lambda text: resolve(_label(text))):
            if fdef.name in ADDRESS_FIELDS:
                raw = _address_list(raw)
            found.add(typed_value(fdef, raw, page, label))


def _place(values: Collector) -> None:
    """省份 and 城市 from 注册地址 (办公地址 when the registered one is missing)."""
    src = values.values.get("注册地址") or values.values.get("办公地址")
    if src is None:
        return
    addr = str(src.value)
    m = _MUNICIPALITY.match(addr)
    if m:
        province = city = m[1] + "市"
    else:
        p = _PROVINCE.match(addr)
        province = p[1] if p else None
        c = _CITY.match(addr[len(province):] if province else addr)
        city = c[1] if c else None
    for name, val in (("省份", province), ("城市", city)):
        if val:
            values.add(Value(name, val, page=src.page, raw_label=f"{src.raw_label}→{name}", raw_text=addr))


def extract_basic(tables: dict[int, list[PageTable]], page_texts: dict[int, str]) -> list[Value]:
    resolve = resolver_for(("basic",))
    found = Collector()
    for page, page_tables in sorted(tables.items()):
        for t in page_tables:
            if _contact_table(t.rows, page, found):
                continue
            if _horizontal_table(t.rows, page, resolve, found):
                continue
            _rows(t.rows, page, resolve, found)
    texts = {page: _CONTACT_BLOCK.sub("", text) for page, text in page_texts.items()}
    for value in collect({}, texts, resolve).list():
        found.add(value)
    _place(found)
    return found.list()
