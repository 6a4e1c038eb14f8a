"""`enact ui` over HTTP: pages, filters, escaping, answer forms, CSRF, Host and token checks.

The app (`enact.ui.create_app`) is driven with Starlette's test client over a
real SQLite store written by `helpers.ui_make_store` (runs of
`helpers.ui_agent`). Browser tests are in tests/test_ui_browser.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette", reason="enact ui needs the 'ui' extra: pip install 'enact[ui]'")

from helpers import ui_agent, ui_make_store
from starlette.testclient import TestClient

import enact
from enact.ui import create_app

TESTS = pathlib.Path(__file__).parent
BASE = "http://127.0.0.1"
ORIGIN = {"Origin": BASE}


@pytest.fixture
def store_url(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/store.db"
    monkeypatch.setattr(sys, "argv", ["ui_make_store", url])
    ui_make_store.main()
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[enact.Store]:
    opened = enact.open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def client(store: enact.Store) -> Iterator[TestClient]:
    with TestClient(create_app(store), base_url=BASE) as test_client:
        yield test_client


def _form_fields(html: str) -> dict[str, str]:
    """The hidden fields of the answer form (csrf, head, path)."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


def _answer(client: TestClient, run_id: str, values: dict[str, str], **headers: str) -> Any:
    page = client.get(f"/runs/{run_id}/answer")
    assert page.status_code == 200, page.text
    data = {**_form_fields(page.text), **values}
    return client.post(
        f"/runs/{run_id}/answer", data=data, headers={**ORIGIN, **headers}, follow_redirects=False
    )


def _run_ids(html: str) -> list[str]:
    return re.findall(r'class="run-link" href="/runs/([^"]+)"', html)


def test_run_list_is_newest_first_and_filters_by_status_function_and_time(
    client: TestClient,
) -> None:
    """The list shows every run newest first; status, function and time filters narrow it."""
    all_runs = _run_ids(client.get("/runs").text)
    assert all_runs == [
        "fail-1",
        "hostile",
        "ask-1",
        "review-2",
        "review-1",
        "total-b",
        "total-a",
        "wide",
    ]
    assert _run_ids(client.get("/runs?status=waiting").text) == [
        "hostile",
        "ask-1",
        "review-2",
        "review-1",
    ]
    assert _run_ids(client.get("/runs?function=total").text) == ["total-b", "total-a"]
    assert _run_ids(client.get("/runs?status=complete&function=wide").text) == ["wide"]
    assert _run_ids(client.get("/runs?function=helpers.ui_agent.fail").text) == ["fail-1"]
    assert _run_ids(client.get("/runs?since=2999-01-01").text) == []
    assert _run_ids(client.get("/runs?until=2999-01-01T00:00").text) == all_runs
    bad = client.get("/runs?since=yesterday")
    assert "&#39;yesterday&#39; is not a time" in bad.text
    assert _run_ids(bad.text) == all_runs


def test_run_list_pages_by_cursor(store: enact.Store) -> None:
    """A page holds PAGE_SIZE runs; the next page starts after the last run's cursor."""
    from enact.ui import _data

    with store:
        first = _data.run_page(store, _data.RunFilter(), limit=3)
        assert [run.id for run in first.runs] == ["fail-1", "hostile", "ask-1"]
        assert first.next_cursor is not None
        second = _data.run_page(store, _data.RunFilter(), first.next_cursor, limit=3)
        assert [run.id for run in second.runs] == ["review-2", "review-1", "total-b"]
        narrow = _data.run_page(
            store, _data.RunFilter(status="complete"), limit=5, scan_limit=4, seconds=None
        )
        assert narrow.runs == [] and narrow.stopped_early and narrow.scanned == 4
        rest = _data.run_page(store, _data.RunFilter(status="complete"), narrow.next_cursor)
        assert [run.id for run in rest.runs] == ["total-b", "total-a", "wide"]
        assert rest.next_cursor is None


def test_live_endpoint_returns_only_runs_started_after_the_cursor(
    client: TestClient, store: enact.Store
) -> None:
    """The run list polls /runs/live with the newest cursor it shows; new runs come back."""
    page = client.get("/runs").text
    after = re.search(r'hx-get="/runs/live\?after=([^"&]+)"', page)
    assert after is not None
    assert _run_ids(client.get(f"/runs/live?after={after.group(1)}").text) == []
    with store:
        enact.invoke(ui_agent.total, ([5],), run_id="total-new")
    live = client.get(f"/runs/live?after={after.group(1)}").text
    assert _run_ids(live) == ["total-new"]
    assert 'hx-swap-oob="afterbegin:#runs-body"' in live


def test_run_page_shows_calls_outputs_exceptions_and_history(client: TestClient) -> None:
    """A run's page shows its call tree with inputs and outputs, and its states."""
    assert "review(&#39;dana&#39;)" in client.get("/runs").text  # the list shows each call
    page = client.get("/runs/total-a").text
    assert "total([1, 2, 3])" in page and "square(3)" in page and ">14<" in page
    assert page.count('<li class="call') == 4
    assert ">finished<" in page and ">started<" in page
    failed = client.get("/runs/fail-1").text
    assert "ValueError: boom 1 &lt;b&gt;bold&lt;/b&gt;" in failed
    assert client.get("/runs/no-such-run").status_code == 404


def test_a_big_tree_renders_a_bounded_part_and_loads_the_rest_on_demand(
    client: TestClient,
) -> None:
    """A run of 331 calls renders TREE_BUDGET of them; the others load when opened."""
    from enact.ui import _data

    page = client.get("/runs/wide").text
    assert page.count('<li class="call') <= _data.TREE_BUDGET
    lazy = re.findall(r'hx-get="/tree/([0-9a-f]{64})\?path=(\d+)" hx-trigger="toggle once"', page)
    assert lazy, "no call is left to load on demand"
    digest, path = lazy[-1]
    kids = client.get(f"/tree/{digest}?path={path}").text
    assert kids.count('<li class="call') == 10 and "square(" in kids


def test_subtree_loads_the_children_of_one_call(client: TestClient, store: enact.Store) -> None:
    """Opening a call whose children were not rendered loads them from /tree/DIGEST?path=."""
    with store:
        run = enact.get_run("total-a", store=store)
        invocation = run.invocation()
        assert invocation is not None
        digest = store.commit(invocation).digest
    kids = client.get(f"/tree/{digest}?path=").text
    assert kids.count('<li class="call') == 3 and "square(2)" in kids
    assert client.get(f"/tree/{digest}?path=7").status_code == 404
    assert client.get(f"/tree/{'0' * 64}?path=").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/runs", "/runs/hostile", "/inbox", "/runs/hostile/answer", "/objects?ref="],
)
def test_stored_strings_are_escaped_everywhere(
    client: TestClient, store: enact.Store, path: str
) -> None:
    """Stored `<script>`, `javascript:` and `{{ }}` are shown as text, never as markup."""
    if path.endswith("="):
        path += store.commit(ui_agent.HOSTILE).digest  # the stored string itself
    page = client.get(path)
    assert page.status_code == 200, page.text
    assert "<script>alert" not in page.text
    assert 'href="javascript:' not in page.text and "href='javascript:" not in page.text
    # {{ 7*7 }} is not evaluated (times, durations and digests may hold "49": left out).
    shown = re.sub(
        r"[0-9a-f]{12,64}|\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?|\d+(\.\d+)? (s|min|h|d)\b",
        "",
        page.text,
    )
    assert "49" not in shown, shown
    if path != "/runs":
        assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; {{ 7*7 }}" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_answer_form_is_built_from_the_requested_type(client: TestClient) -> None:
    """Fields, defaults, enum choices, optional fields and nested resources."""
    page = client.get("/runs/review-1/answer").text
    assert 'name="answer.approved"' in page and '<option value="yes">yes</option>' in page
    assert 'name="answer.retries" inputmode="numeric"' in page
    assert re.search(r'name="answer.address.zip_code"[^>]*>00000<', page)
    assert 'name="answer.address.city"' in page and "<legend>address" in page
    assert '<option value="FRIENDLY" selected>' in page and '<option value="FORMAL">' in page
    assert 'name="answer.note"' in page and "(empty: None)" in page
    assert "Hi dana,\n\nyour refund is on its way." in page  # the value to approve, as text


def test_wrong_answers_show_errors_per_field_and_leave_the_run_waiting(
    client: TestClient, store: enact.Store
) -> None:
    """Each field is parsed and checked; nothing is stored when one is wrong."""
    response = _answer(
        client,
        "review-1",
        {"answer.approved": "maybe", "answer.retries": "many", "answer.address.city": "Oslo"},
    )
    assert response.status_code == 200 and "answer-form" in response.text
    assert "expected bool (yes or no), got &#39;maybe&#39;" in response.text
    assert "expected int, got &#39;many&#39;" in response.text
    assert 'value="many"' in response.text  # what was typed is kept
    with store:
        assert enact.get_run("review-1", store=store).status == "waiting"


def _field_errors(html: str) -> dict[str, str]:
    """The error shown at each field of an answer form, by field name."""
    found = re.findall(r'<p class="field-error" data-for="([^"]+)">([^<]*)</p>', html)
    return {name: text.replace("&#39;", "'") for name, text in found}


def test_the_cli_and_the_form_report_the_same_problem_in_the_same_words(
    client: TestClient, store_url: str
) -> None:
    """A wrong field gets the problem text ``enact answer`` prints for it (one validator)."""
    response = _answer(
        client,
        "review-1",
        {
            "answer.approved": "yes",
            "answer.retries": "many",
            "answer.address.city": "Oslo",
            "answer.tone": "LOUD",
        },
    )
    errors = _field_errors(response.text)
    assert set(errors) == {"answer.retries", "answer.tone"}
    assert errors["answer.retries"] == "expected int, got 'many'"
    wrong = {"approved": True, "retries": "many", "address": {"city": "Oslo"}, "tone": "LOUD"}
    command = [sys.executable, "-m", "enact", "--store", store_url, "--import", "helpers.ui_agent"]
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    cli = subprocess.run(
        [*command, "answer", "review-1", "--input", json.dumps(wrong)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert cli.returncode != 0
    printed = " ".join(cli.stderr.split())
    for name, problem in errors.items():
        assert f"$.{name.removeprefix('answer.')}: {problem}" in printed, (name, printed)


def test_a_right_answer_continues_the_run_once(client: TestClient, store: enact.Store) -> None:
    """Answering continues the run here; the same form sent again is refused."""
    page = client.get("/runs/review-1/answer")
    fields = {
        **_form_fields(page.text),
        "answer.approved": "yes",
        "answer.retries": "2",
        "answer.address.city": "Oslo",
        "answer.address.zip_code": "0150",
        "answer.tone": "FORMAL",
        "answer.note": "",
    }
    response = client.post(
        "/runs/review-1/answer", data=fields, headers=ORIGIN, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    shown = client.get(response.headers["location"]).text
    assert "Answered: the run is now complete." in shown
    with store:
        run = enact.get_run("review-1", store=store)
        assert run.status == "complete"
        invocation = run.invocation()
        assert invocation is not None
        assert invocation.get_output() == "sent to Oslo (formal, 2)"
    again = client.post("/runs/review-1/answer", data=fields, headers=ORIGIN)
    assert again.status_code == 409
    assert "waits for no input" in again.text
    # Every call shows its duration; those the answering attempt took from the
    # journal (they ran before the request) say so.
    page_text = client.get("/runs/review-1").text
    calls = page_text.count('<li class="call')
    assert page_text.count('<span class="seconds">') == calls
    assert 0 < page_text.count("(from the journal)") < calls


def test_a_run_page_shows_each_call_s_duration(client: TestClient, store: enact.Store) -> None:
    """Durations come from the run's timings (enact.Run.timings), not from the tree."""
    with store:
        timings = enact.get_run("total-a", store=store).timings()
    page = client.get("/runs/total-a").text
    shown = re.findall(
        r'<li class="call[^"]*" data-path="([\d.]*)">.*?<span class="seconds">'
        r"([\d.]+) s</span>",
        page,
        re.S,
    )
    assert len(shown) == page.count('<li class="call') == 4
    for path_text, seconds in shown:
        path = tuple(int(part) for part in path_text.split(".") if part)
        timing = timings.get(path)
        assert timing is not None and f"{timing.duration:.3f}" == seconds
    assert "(from the journal)" not in page  # one attempt ran every call


def test_record_only_leaves_the_run_answered(client: TestClient, store: enact.Store) -> None:
    """'Record the answer only' stores it; the run waits for `enact resume`."""
    response = _answer(client, "ask-1", {"answer": "they are welcome", "mode": "record"})
    assert response.status_code == 303, response.text
    with store:
        assert enact.get_run("ask-1", store=store).status == "answered"
        run = enact.resume("ask-1")
        invocation = run.invocation()
        assert invocation is not None and invocation.get_output() == "dogs: they are welcome"


def test_a_form_for_an_older_head_is_refused(client: TestClient, store: enact.Store) -> None:
    """The form carries the head it was built from: a run that moved on is not answered."""
    page = client.get("/runs/ask-1/answer")
    fields = {**_form_fields(page.text), "answer": "late"}
    with store:
        enact.answer("ask-1", "first", run_now=False)
    response = client.post("/runs/ask-1/answer", data=fields, headers=ORIGIN)
    assert response.status_code == 409
    with store:
        assert enact.get_run("ask-1", store=store).state.answer is not None


def test_state_changing_requests_need_the_csrf_token_and_this_origin(
    client: TestClient, store: enact.Store
) -> None:
    """No token, a wrong token, another Origin, or no Origin: refused, nothing stored."""
    fields = _form_fields(client.get("/runs/ask-1/answer").text)
    url = "/runs/ask-1/answer"
    no_token = {key: value for key, value in fields.items() if key != "csrf"}
    assert client.post(url, data={**no_token, "answer": "x"}, headers=ORIGIN).status_code == 403
    wrong = {**fields, "csrf": "0" * 64, "answer": "x"}
    assert client.post(url, data=wrong, headers=ORIGIN).status_code == 403
    right = {**fields, "answer": "x"}
    evil = client.post(url, data=right, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and "Origin" in evil.text
    assert client.post(url, data=right).status_code == 403  # no Origin, no Referer
    with store:
        assert enact.get_run("ask-1", store=store).status == "waiting"


def test_other_host_names_are_refused(store: enact.Store) -> None:
    """A Host header that is not loopback (DNS rebinding) is refused before any page."""
    with TestClient(create_app(store), base_url="http://evil.example:8765") as other:
        response = other.get("/runs")
    assert response.status_code == 400
    assert "fail-1" not in response.text


def test_a_token_guards_every_page(store: enact.Store) -> None:
    """With a token, pages need it once (?token=), which sets a cookie; a wrong one is refused."""
    with TestClient(create_app(store, token="s3cret"), base_url=BASE) as guarded:
        assert guarded.get("/runs").status_code == 401
        assert guarded.get("/runs?token=wrong").status_code == 401
        login = guarded.get("/runs?token=s3cret", follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/runs"
        assert "HttpOnly" in login.headers["set-cookie"]
        assert "fail-1" in guarded.get("/runs").text


def test_diff_of_two_runs_shows_reused_and_differing_calls(client: TestClient) -> None:
    """Runs sharing calls: the identical ones are reused, the others differ."""
    page = client.get("/diff?a=total-a&b=total-b").text
    assert "<strong>2</strong> calls differ; <strong>2</strong> identical (reused)" in page
    assert page.count('class="diff-row kind-same"') == 2
    assert page.count('class="diff-row kind-call"') == 2
    assert "square(3)" in page and "square(4)" in page
    missing = client.get("/diff?a=total-a&b=nothing-here").text
    assert "No run, name or object &#39;nothing-here&#39;" in missing


def test_diff_of_two_states_of_a_run(client: TestClient, store: enact.Store) -> None:
    """The history's states can be diffed: the answered call differs, the rest is reused."""
    with store:
        enact.answer("ask-1", "yes", run_now=True)
        states = [ref.digest for ref, _ in enact.get_run("ask-1", store=store).history()]
    page = client.get(f"/diff?a={states[-1]}&b={states[0]}").text
    assert "diff-row" in page and "kind-output" in page


def test_any_object_by_ref_or_name_and_its_json(client: TestClient, store: enact.Store) -> None:
    """Run ids, names, digests and prefixes resolve; /objects/REF.json is its stored JSON."""
    with store:
        head = enact.get_run("total-a", store=store).head.digest
    page = client.get("/objects?ref=total-a").text
    assert head in page and "enact.runs.RunState" in page
    assert head in client.get(f"/objects?ref={head[:10]}").text
    assert "runs/fail-1" in client.get("/objects?ref=@1").text  # the latest run, as in the CLI
    assert "runs/total-a" in client.get("/objects?ref=@7").text
    document = client.get("/objects/total-a.json").json()  # the schema of docs/JSON.md
    assert document["ref"] == head and document["name"] == "runs/total-a"
    assert document["schema"] == 1 and document["type"] == "enact.runs.RunState"
    assert document["value"]["fields"]["run_id"] == "total-a"
    assert "$ref" in document["value"]["fields"]["request"]
    run = client.get("/runs/ask-1.json").json()
    assert run["id"] == "ask-1" and run["status"] == "waiting" and run["call"] == "ask('dogs')"
    assert [request["path"] for request in run["input_requests"]] == [[0]]
    with store:
        invocation = enact.get_run("total-a", store=store).invocation()
        assert invocation is not None
        tree = client.get(f"/tree/{store.commit(invocation).digest}.json").json()
    assert len(tree["children"]) == 3
    assert client.get("/objects/no-such-thing.json").status_code == 404
    assert client.get("/objects?ref=zzzz").status_code == 404


def test_enact_ui_refuses_other_hosts_without_a_token(store_url: str) -> None:
    """`enact ui --host 0.0.0.0` without --token says why and exits 1, listening on nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "enact", "--store", store_url, "ui", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "requires --token TOKEN or --token-file FILE" in result.stderr
    assert json.dumps(result.stdout) == '""'


def test_enact_ui_without_the_extra_says_how_to_install(store_url: str) -> None:
    """Without Starlette (the 'ui' extra), `enact ui` says which extra to install, exit 1."""
    code = (
        "import sys; sys.modules['starlette'] = None\n"
        "from enact.cli import main\n"
        f"main(['--store', {store_url!r}, 'ui', '--port', '0'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "pip install 'enact[ui]'" in result.stderr
    assert "http://" not in result.stdout


def test_enact_ui_token_file_must_hold_a_token(store_url: str, tmp_path: pathlib.Path) -> None:
    """An empty --token-file, or --token with --token-file, is refused before listening."""
    empty = tmp_path / "token"
    empty.write_text("\n")
    base = [sys.executable, "-m", "enact", "--store", store_url, "ui"]
    result = subprocess.run(
        [*base, "--token-file", str(empty)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and "is empty: write the token into it" in result.stderr
    both = subprocess.run(
        [*base, "--token", "t", "--token-file", str(empty)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert both.returncode == 1 and "not both" in both.stderr


def test_indentation_styles_cover_every_depth_the_pages_use(client: TestClient) -> None:
    """Every page links /indent.css, which styles depth-0 to depth-12 (the cap the pages use)."""
    assert '<link rel="stylesheet" href="/indent.css">' in client.get("/runs").text
    styles = client.get("/indent.css")
    assert styles.status_code == 200
    assert styles.headers["content-type"].startswith("text/css")
    assert ".depth-0 { padding-left: 0.0rem; }" in styles.text
    assert ".depth-12 { padding-left: 14.4rem; }" in styles.text
    assert ".depth-13" not in styles.text


_STEP_INPUT = {"value": 1}


@enact.register
def ui_lookup(value: int) -> int:
    return value * 10


@enact.register
def ui_changing_agent() -> str:
    found = ui_lookup(_STEP_INPUT["value"])
    return f"{found}: {enact.request_input(str, context='go on?')}"


def test_an_answer_whose_replay_stops_is_kept_and_said_so(
    client: TestClient, store: enact.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The program changed since the run was journaled: the answer is recorded, the replay
    stops with a ReplayError, and the page says the run is interrupted and resumable with
    that answer (not "not answered"); once the program is fixed, resume finishes it."""
    with store:
        enact.invoke(ui_changing_agent, run_id="changed-1")
    monkeypatch.setitem(_STEP_INPUT, "value", 2)  # the call the run made is not made now
    response = _answer(client, "changed-1", {"answer": "yes"})
    assert response.status_code == 200
    assert "answer recorded, but the run stopped: " in response.text
    assert "Replay stopped at call [0]" in response.text
    assert "`enact resume changed-1` continues it with this answer" in response.text
    assert "not answered" not in response.text
    monkeypatch.setitem(_STEP_INPUT, "value", 1)
    with store:
        assert enact.get_run("changed-1", store=store).status == "interrupted"
        run = enact.resume("changed-1")
        invocation = run.invocation()
        assert invocation is not None and invocation.get_output() == "10: yes"
