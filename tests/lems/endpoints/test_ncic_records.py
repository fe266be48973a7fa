"""The NCIC hot files' storage (``lems.repositories.ncic``): the search indexes an inquiry uses,
live records only in the name and owner indexes, and a lab made before that still opening."""

from __future__ import annotations

import sqlite3

from lems.endpoints.ncic import NcicStore, index_values
from lems.repositories import ncic as ncic_records

OWN = "OR0240000"


def ask(ncic, text: str) -> list[str]:
    return ncic.handle(text, OWN, "T01").bodies


def enter(ncic, oca: str, name: str = "SMITH,JOHN J") -> str:
    body = ask(
        ncic,
        f"EW.{OWN}.NAM/{name}.SEX/M.RAC/W.HGT/510.WGT/175.HAI/BRO.OFF/1299."
        f"DOW/20261101.OCA/{oca}.DOB/19800101",
    )[0]
    assert body.startswith(f"ACC.{OWN}"), body
    return body


def index_entries(conn: sqlite3.Connection, index: str) -> int:
    """Entries of ``index`` (counted over the index itself: INDEXED BY forbids a table scan)."""
    where = "sdx IS NOT NULL" if index == "record_name_live" else "ori IS NOT NULL"
    n: int = conn.execute(
        f"SELECT count(*) FROM record INDEXED BY {index} WHERE {where} "
        "AND status IN ('active', 'located')"
    ).fetchone()[0]
    return n


def test_search_columns_are_the_ones_the_store_writes():
    assert tuple(index_values([])) == ncic_records.INDEX_COLUMNS


def test_each_inquiry_is_an_index_search(ncic):
    """Name, owner, VIN, plate: each read of an inquiry searches an index, none scans the
    table (a scan at 15 M records is seconds)."""
    enter(ncic, "26-1")
    conn = ncic.store.conn
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        ask(ncic, f"QW.{OWN}.NAM/SMITH,JOHN.DOB/19800101")
        ask(ncic, f"QW.{OWN}.NAM/SMITH,JOHN.DOB/19800101.EXD/Y.RAC/B")
        ask(ncic, f"QV.{OWN}.VIN/1FAFP40432F100001")
        ask(ncic, f"QV.{OWN}.LIC/ABC123")
    finally:
        conn.set_trace_callback(None)
    reads = [s for s in seen if s.lstrip().startswith("SELECT") and "FROM record" in s]
    assert len(reads) >= 5, seen
    for sql in reads:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        assert all(not p.startswith("SCAN") for p in plan), (sql, plan)
        assert any(p.startswith("SEARCH record USING INDEX") for p in plan), (sql, plan)


def test_a_cancelled_record_leaves_the_name_and_owner_indexes(ncic):
    conn = ncic.store.conn
    enter(ncic, "26-1")
    enter(ncic, "26-2", "SMYTH,JOHN J")  # the same soundex and date of birth
    assert index_entries(conn, "record_name_live") == 2
    assert index_entries(conn, "record_owner_live") == 2
    body = ask(ncic, f"XW.{OWN}.NAM/SMITH,JOHN J.OCA/26-1")[0]
    assert body.startswith(f"ACC.{OWN}"), body
    assert index_entries(conn, "record_name_live") == 1
    assert index_entries(conn, "record_owner_live") == 1
    hits = ask(ncic, f"QW.{OWN}.NAM/SMITH,JOHN.DOB/19800101")
    assert len(hits) == 1 and "OCA/26-2" in hits[0], hits


def test_a_lab_made_with_the_old_indexes_opens_with_the_new(tmp_path):
    """A lab whose ncic.db has the full name and owner indexes of before gets the live-only
    ones on its next start, and its records are still found."""
    path = tmp_path / "old.db"
    old = NcicStore.open(path)
    old.insert("wanted", "EW", OWN, "26-9", [("NAM", "SMITH,JOHN J"), ("DOB", "19800101")], "x")
    c = old.conn
    c.execute("DROP INDEX record_name_live")
    c.execute("DROP INDEX record_owner_live")
    c.execute("CREATE INDEX record_name ON record (sdx, dob)")
    c.execute("CREATE INDEX record_owner ON record (ori, oca, file)")
    c.commit()
    c.close()
    store = NcicStore.open(path)
    try:
        names = {
            n for (n,) in store.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
        assert {"record_name_live", "record_owner_live"} <= names
        assert not {"record_name", "record_owner"} & names
        found = store.by_name(("wanted",), "SMITH,JOHN", ["19800101"])
        assert [r.oca for r in found] == ["26-9"]
        assert store.by_oca(OWN, "26-9", "wanted") is not None
    finally:
        store.conn.close()
