"""公司简介 / 基本情况: company names, code, legal representative, addresses, contacts, exchange, auditor.

Three table shapes occur: label | value rows (most of it); the contacts table, whose columns are
董事会秘书 | 证券事务代表 and rows 姓名 / 电话 / 传真 / 电子信箱; and the 股票简况 table, a header row of
labels over a row of values. Grouped rows ("公司聘请的会计师事务所 | 名称 | 天健…") take the value of the
名称 sub-row only, so the auditor's 办公地址 never becomes the company's; the 签字会计师姓名 sub-row is the
signing accountants'.

Basic facts printed elsewhere in the report (:func:`extract_report_facts`): the officers, from the
董事、监事、高级管理人员 table (a row: name, 职务, [任职状态], 性别, 年龄, 任期 …) and the 重要提示 declaration
(「本行董事长谢永林、行长冀光恒…声明」); the shareholder counts of 股份变动及股东情况.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from datetime import date

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
from knowledge.fields import field_dictionary
from knowledge.store import Value

# Contacts table: column header → field of the 姓名 row; row label → field (电子信箱 there is the
# secretary's mailbox, not the company's, so it is not taken).
CONTACT_COLUMNS = {"董事会秘书": "董事会秘书", "证券事务代表": "证券事务代表"}
CONTACT_ROWS = {"电话": "联系电话", "传真": "传真"}
GROUP_SUBLABELS = ("名称",)  # the sub-row of a group whose value names the group's field
# Sub-rows that name a field of their own (公司聘请的会计师事务所 | 签字会计师姓名 | 昌华、王阳燕).
SUBLABEL_FIELDS = ("签字会计师",)
# Fields whose value is a list of people: 「中国注册会计师：陈志芳 中国注册会计师：李瑶」 → 陈志芳、李瑶.
NAME_LIST_FIELDS = ("签字会计师",)
_NAME_TITLE = re.compile(r"(?:中国)?注册会计师\s*[:：]")
# A Chinese name: two to four characters, or a longer one joined by 「·」.
_PERSON = re.compile(r"^(?:[\u4e00-\u9fff]{2,4}|[\u4e00-\u9fff]+(?:·[\u4e00-\u9fff]+)+)$")
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
            elif (own := resolve(sub)) is not None and own.name in SUBLABEL_FIELDS:
                found.add(typed_value(own, nonempty[-1], page, f"{group}/{sub}"))
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
    return [_as_name_list(v) if v.field in NAME_LIST_FIELDS else v for v in found.list()]


def _as_name_list(value: Value) -> Value:
    """The names of the cell as printed (line breaks kept): a wrapped line that is no name (the text layer's
    next row, 「报告期内履行持续」) is left out."""
    pieces = re.split(r"[\s、，,；;/]+", _NAME_TITLE.sub(" ", value.raw_text or str(value.value)))
    names = [p for p in pieces if _PERSON.match(p)]
    return dataclasses.replace(value, value="、".join(names))


# --- basic facts printed outside 公司简介 -----------------------------------------------------------

# The officers read from the 董事、监事、高级管理人员 table, each found by the titles its field is named by
# (fields.toml: 总经理 is also 总裁 or 行长; 财务负责人 also 财务总监 or 首席财务官).
OFFICER_FIELDS = ("董事长", "总经理", "财务负责人")
# Words of a title, never of a name: a wrapped 职务 cell (「监事会主」「席」) is not taken for the name.
OFFICE_WORDS = ("董事", "监事", "经理", "总裁", "行长", "总监", "秘书", "主席", "财务", "负责人", "首席", "助理", "院长",
                "工程师", "书记", "委员", "职工")
# A row of the table reads "<name> <职务…> [现任|离任] <男|女> <年龄>"; the sex and age anchor it.
_SEX_AGE = re.compile(r"(?<!\S)[男女]\s+(\d{2})(?!\d)")
_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,5}$")
_STATUS = ("现任", "离任")
MAX_TITLE_TOKENS = 3
# The last characters of a complete title (董事长, 总经理, 总裁, 财务总监, 首席财务官, 董事会秘书, 监事会主席 …).
TITLE_ENDS = "长事理裁监官书席人师"
# The 任期 that follows the age in SSE tables: 「2019 年 5 月 21 日 2022 年 5 月 20 日」 (start, end).
_FULL_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
TERM_WINDOW = 60
_TITLE_SPLIT = re.compile(r"[、，,/\s兼]+")
# 重要提示: 「本行董事长谢永林、行长冀光恒、副行长兼首席财务官项有志、会计机构负责人郁辰声明：保证…」.
_DECLARATION = re.compile(r"([^。：:]{4,200}?)声明[:：]?保证")
MAX_DECLARED_NAME = 4
_SUBJECT = re.compile(r"^(?:[一二三四五六七八九十\d]+[、.])?(?:本行|本公司|公司)?")
# 「截止报告期末普通股股东总数（户） 20,200」, 「报告期末普通股股东总数 486,258 户」
HOLDER_COUNTS = (
    (re.compile(r"报告期末普通股股东总数(?:\(户\))?[:：]?(\d[\d,]*)"), "普通股股东总数"),
    (re.compile(r"披露日前上一月末的?普通股股东总数(?:\(户\))?[:：]?(\d[\d,]*)"), "披露日前上一月末普通股股东总数"),
)


def extract_report_facts(pages: list[str], year: int | None = None) -> list[Value]:
    """Basic facts a report prints outside its 公司简介: the officers (董事长, 总经理, 财务负责人) and the
    shareholder counts. ``pages`` are all the report's pages; ``year`` the report's, to tell an officer
    who left during it (任期 ended) from one in office. A fact two places give differently is left out."""
    return _officers(pages, year) + _holder_counts(pages)


def _officers(pages: list[str], year: int | None) -> list[Value]:
    fields = field_dictionary()
    found: dict[str, set[str]] = {}
    first: dict[str, Value] = {}
    for page, text in enumerate(pages, 1):
        for name, field, raw in [*_table_officers(text, fields, year), *_declared_officers(text, fields)]:
            found.setdefault(field, set()).add(name)
            first.setdefault(field, Value(field, name, page=page, raw_label=field, raw_text=raw))
    return [first[f] for f in OFFICER_FIELDS if len(found.get(f, ())) == 1]


def _role(title: str, fields) -> str | None:
    f = fields.resolve(title)
    return f.name if f is not None and f.name in OFFICER_FIELDS else None


def _roles(titles: list[str], fields) -> set[str]:
    """The officer fields a 职务 cell names, its lines joined (「董事、副」「总裁」 is 副总裁, not 总裁). Where a
    complete title ends a line (「董事、副行长」「首席财务官」), the next line starts another title."""
    pieces = _TITLE_SPLIT.split("".join(titles))
    for left, right in zip(titles, titles[1:]):
        if _ends_a_title(_TITLE_SPLIT.split(left)[-1]):
            pieces.append(_TITLE_SPLIT.split(right)[0])
    return {role for p in pieces if p and (role := _role(p, fields))}


def _ends_a_title(piece: str) -> bool:
    """「副行长」 is a title; 「副」, 「代理」, 「董事、总」's 「总」 only begin one."""
    return len(piece) >= 3 and piece[-1] in TITLE_ENDS


def _table_officers(text: str, fields, year: int | None):
    """(name, field, row text) for each row of the officers' table on the page that names a current officer."""
    if "男" not in text and "女" not in text:
        return  # (most pages: no row of people)
    flat = " ".join(text.split())
    for m in _SEX_AGE.finditer(flat):
        tokens = flat[max(0, m.start() - 80):m.start()].split()
        status = tokens.pop() if tokens and tokens[-1] in _STATUS else None
        split = _name_and_titles(tokens)
        if split is None or status == "离任" or (year and _left_before(flat[m.end():m.end() + TERM_WINDOW], year)):
            continue
        name, titles = split
        for role in _roles(titles, fields):
            yield name, role, " ".join([name, *titles])


def _name_and_titles(tokens: list[str]) -> tuple[str, list[str]] | None:
    """The name and the 职务 tokens before the sex: the fewest 职务 tokens that leave a name before them."""
    for k in range(1, min(MAX_TITLE_TOKENS, len(tokens) - 1) + 1):
        name, titles = tokens[-k - 1], tokens[-k:]
        if _NAME.match(name) and not any(w in name for w in OFFICE_WORDS) and not any(re.search(r"\d", t) for t in titles):
            return name, titles
    return None


def _left_before(term: str, year: int) -> bool:
    """An SSE row's 任期 (start, end): an end within or before the report's year is an officer who left."""
    dates = _FULL_DATE.findall(term)
    if len(dates) < 2:
        return False
    try:
        end = date(*(int(x) for x in dates[1]))
    except ValueError:
        return False
    return end <= date(year, 12, 31)


def _declared_officers(text: str, fields):
    """(name, field, clause) for each officer of the 重要提示 declaration named by a title of their own."""
    if "声" not in text:
        return
    flat = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    for m in _DECLARATION.finditer(flat):
        for clause in re.split(r"[、，,]|及(?=[^、，,]*负责人)", m.group(1)):
            clause = _SUBJECT.sub("", clause.strip())
            if found := _titles_and_name(clause, fields):
                titles, name = found
                for role in {r for t in titles if (r := _role(t, fields))}:
                    yield name, role, clause


def _titles_and_name(clause: str, fields) -> tuple[list[str], str] | None:
    """「副行长兼首席财务官项有志」 → ([副行长, 首席财务官], 项有志): the titles of a 兼 chain and the name after
    the last one, which must be an officer's title (where the name starts is known only from it)."""
    *chain, last = _TITLE_SPLIT.split(clause)
    for cut in range(2, len(last) - 1):
        title, name = last[:cut], last[cut:]
        if _role(title, fields) and _NAME.match(name) and len(name) <= MAX_DECLARED_NAME:
            return [*chain, title], name
    return None


def _holder_counts(pages: list[str]) -> list[Value]:
    found: dict[str, set[str]] = {}
    first: dict[str, Value] = {}
    for page, text in enumerate(pages, 1):
        if "户" not in text and "总数" not in text:
            continue  # (a page printing the counts has one of these, however its label wraps: 「普通股股\n东总数」)
        flat = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
        for pattern, field in HOLDER_COUNTS:
            for m in pattern.finditer(flat):
                count = m[1].rstrip(",")
                found.setdefault(field, set()).add(count.replace(",", ""))
                first.setdefault(field, Value(field, int(count.replace(",", "")), page=page, raw_label=field,
                                              raw_text=m[0]))
    return [v for f, v in first.items() if len(found[f]) == 1]
