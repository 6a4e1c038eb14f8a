"""The example agent's own test suite (copied into a project as test_agent.py by
tests/test_cassettes.py, which runs it with pytest in a subprocess)."""

from __future__ import annotations

import pytest
import support_agent

import enact


@enact.cassette("printer", external=[support_agent.SearchDocs])
def test_printer_ticket(enact_store: enact.Store) -> None:
    invocation = enact.invoke(support_agent.answer_ticket, ("My printer is on fire",))
    output = invocation.get_output()
    assert output["category"] == "hardware"
    assert output["reply"].startswith("Dear customer")


@pytest.mark.enact_cassette("billing", external=[support_agent.SearchDocs])
def test_billing_ticket() -> None:
    with enact.InMemoryStore():  # no enact_store here: the test's own store
        first = enact.invoke(support_agent.answer_ticket, ("I was charged twice",))
        assert first.get_output()["category"] == "billing"
        second = enact.invoke(support_agent.classify, ("I was charged twice",))
        assert second.get_output() == "billing"


@pytest.mark.parametrize("ticket", ["My printer is on fire", "I was charged twice"], ids=["p", "b"])
@enact.cassette("classify")  # one cassette per case: classify[p], classify[b]
def test_classify(enact_store: enact.Store, ticket: str) -> None:
    category = enact.invoke(support_agent.classify, (ticket,)).get_output()
    assert category == ("hardware" if "printer" in ticket else "billing")


@pytest.mark.parametrize("number", [1, 2])
def test_enact_store_is_a_fresh_active_store_per_test(
    enact_store: enact.Store, number: int
) -> None:
    assert enact_store.names() == {}  # the other parametrization's name is not here
    ref = enact.commit(f"value {number}")  # the fixture's store is the active one
    enact_store.set_name("mine", ref)
    assert enact_store.checkout(ref) == f"value {number}"
