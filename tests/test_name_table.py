"""The in-memory name table answers range queries by bisecting its sorted names.

Checked against the plain definition (filter every name with `NameQuery.selects`,
sort, reverse, cut), for names that share prefixes, empty prefixes, and names
ending in the largest code point (which no string bounds from above).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from enact.stores.base import ANY, NameQuery, NameTable

LAST = chr(0x10FFFF)
alphabet = st.sampled_from(["a", "b", "/", "é", LAST])
names = st.text(alphabet, max_size=5)


def plain(table: dict[str, str], query: NameQuery) -> list[tuple[str, str]]:
    found = sorted((name, digest) for name, digest in table.items() if query.selects(name))
    if query.reverse:
        found.reverse()
    return found if query.limit is None else found[: query.limit]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(names, st.booleans())),
    names,
    st.none() | names,
    st.none() | names,
    st.booleans(),
    st.none() | st.integers(min_value=0, max_value=4),
)
def test_select_is_the_filtered_sorted_names(
    changes: list[tuple[str, bool]],
    prefix: str,
    after: str | None,
    before: str | None,
    reverse: bool,
    limit: int | None,
) -> None:
    table = NameTable()
    expected: dict[str, str] = {}
    for number, (name, keep) in enumerate(changes):
        digest = f"{number:064x}" if keep else None
        table.set(name, digest, ANY)
        if digest is None:
            expected.pop(name, None)
        else:
            expected[name] = digest
    query = NameQuery(prefix, after=after, before=before, reverse=reverse, limit=limit)
    assert table.select(query) == plain(expected, query)
    assert list(table.items()) == sorted(expected.items())


def test_a_memory_store_lists_a_prefix_among_many_names() -> None:
    table = NameTable()
    for number in range(2000):
        table.set(f"runs/{number:05d}", f"{number:064x}", ANY)
        table.set(f"journal/{number:05d}/0", f"{number:064x}", ANY)
    table.set("journal/00007/0", None, ANY)
    page = table.select(NameQuery("journal/0000", reverse=True, limit=3))
    assert [name for name, _ in page] == ["journal/00009/0", "journal/00008/0", "journal/00006/0"]
