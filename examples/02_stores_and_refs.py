"""Stores and refs: committing snapshots and checking them out again.

`enact.commit(value)` stores a snapshot of a resource in the active store
(entered with ``with store:``) and returns a `Ref`: the SHA-256 digest of the
snapshot's content. ``ref.checkout()``, or just ``ref()``, returns a fresh
copy. Because a ref is computed from content, committing equal content twice
gives the same ref, and a ref can never point at a newer version of itself:
a store is a Merkle DAG, like git's object store.

Refs are resources too, so one resource can point at another by ref.
``ref.modify()`` edits a snapshot and moves that one ref to the new
snapshot; the old snapshot stays, and other refs to it are unchanged.

Run: python 02_stores_and_refs.py
"""

from __future__ import annotations

import dataclasses

import enact


@enact.register
@dataclasses.dataclass
class Note(enact.Resource):
    """A short note."""

    title: str
    body: str


@enact.register
@dataclasses.dataclass
class Revision(enact.Resource):
    """One version of a document, linked to the version before it."""

    text: str
    previous: enact.Ref[Revision] | None = None


def commit_and_checkout(store: enact.Store) -> None:
    print("== Commit and check out ==")
    with store:
        note = Note("groceries", "eggs, flour")
        ref = enact.commit(note)
        print("ref:", ref)
        copy = ref.checkout()
        print("checked out:", copy)
        print("ref() equals ref.checkout():", ref() == copy)
        print("a fresh object each time:", ref() is not ref())
        note.body = "eggs, flour, milk"
        print("changing the original does not touch the snapshot:", ref().body)
        again = enact.commit(Note("groceries", "eggs, flour"))
        print("equal content, equal ref:", again == ref)


def linked_revisions(store: enact.Store) -> enact.Ref[Revision]:
    print()
    print("== Resources that point at other resources ==")
    with store:
        head = enact.commit(Revision("Hello"))
        head = enact.commit(Revision("Hello, world", previous=head))
        head = enact.commit(Revision("Hello, world!", previous=head))
        cursor: enact.Ref[Revision] | None = head
        while cursor is not None:
            revision = cursor()
            print(f"  {cursor.digest[:10]}  {revision.text}")
            cursor = revision.previous
        print("the whole chain, as enact.pprint shows it:")
        enact.pprint(head)
    return head


def no_cycles(store: enact.Store) -> None:
    print()
    print("== Why refs cannot form cycles ==")
    with store:
        first = Revision("first")
        second = Revision("second", previous=enact.commit(first))
        # Pointing `first` at `second` needs second's ref, which depends on
        # the snapshot of `first` taken above, not on the object as it is now.
        first.previous = enact.commit(second)
        ref = enact.commit(first)
        texts = []
        cursor: enact.Ref[Revision] | None = ref
        while cursor is not None:
            texts.append(cursor().text)
            cursor = cursor().previous
        print("following the refs from `first`:", " -> ".join(texts))
        print("three snapshots, and the last one is the old `first`, which links nowhere")


def modify_a_ref(store: enact.Store) -> None:
    print()
    print("== Modifying what a ref points at ==")
    with store:
        ref = enact.commit(Note("todo", "write examples"))
        kept = ref.deepcopy_resource()
        with ref.modify() as note:
            note.body = "write examples, then tests"
        print("ref now points at:", ref())
        print("the copy still points at:", kept())
        print("different snapshots:", ref != kept)


if __name__ == "__main__":
    memory = enact.InMemoryStore()
    commit_and_checkout(memory)
    linked_revisions(memory)
    no_cycles(memory)
    modify_a_ref(memory)
