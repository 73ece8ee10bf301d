"""core/tabular.py `header_map`: the one reading of an import's header row (#11)."""

from dataclasses import dataclass

from core.tabular import header_map


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plain:
    key: str
    header: str


COLUMNS = (Column("date", "日期", ("date",)), Column("name", "名称", ("节日",)))


def test_headers_and_aliases_after_normalising():
    # Full-width letters and spaces are normalised; blank and unknown cells are skipped.
    assert header_map([None, "名 称", "ｄａｔｅ", "备注"], COLUMNS) == ({"name": 1, "date": 2}, [])


def test_a_column_named_twice_keeps_the_first_and_says_so():
    assert header_map(["日期", "节日", "date"], COLUMNS) == ({"date": 0, "name": 1}, ["日期"])


def test_case_is_folded_only_when_asked():
    assert header_map(["Date"], COLUMNS) == ({}, [])
    assert header_map(["Date"], COLUMNS, fold_case=True) == ({"date": 0}, [])


def test_columns_without_aliases():
    assert header_map(["金额", 3.0], [Plain("amount", "金额")]) == ({"amount": 0}, [])
