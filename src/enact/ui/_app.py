"""The web app: Starlette routes rendering Jinja2 templates (autoescaped) over `_data`.

Every handler reads the store in a worker thread with the store active
(`with store:`), so program code run by an answer sees it as `enact` code
run anywhere does. Pages are server-rendered HTML; htmx (vendored under
``static/``) only polls for new runs and loads deeper parts of a tree when
they are opened.
"""

from __future__ import annotations

import datetime
import pathlib
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from enact import jsonview, pretty
from enact.errors import EnactError, InputTypeError, ReplayError, RunConflictError
from enact.invocations.inputs import InputRequest, answer, run_input_requests
from enact.invocations.runs import STATUSES, Run, get_run, run_index_name
from enact.invocations.timings import Timings
from enact.refs import Ref
from enact.stores.store import Store
from enact.ui import _data, _forms
from enact.ui._security import CSRF_FIELD, Guard, allowed_hosts

HERE: Final = pathlib.Path(__file__).parent
T = TypeVar("T")


MAX_INDENT: Final = 12
"""The deepest indentation a line of an object or a row of a diff gets (deeper ones too)."""

_INDENT_CSS: Final = "".join(
    f".depth-{depth} {{ padding-left: {depth * 1.2:.1f}rem; }}\n" for depth in range(MAX_INDENT + 1)
)
"""The ``depth-N`` classes of the templates: a step of 1.2rem a level, up to `MAX_INDENT`."""


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        format_time=_data.format_time,
        format_age=_data.format_age,
        statuses=STATUSES,
        max_indent=MAX_INDENT,
        quote=lambda text: urllib.parse.quote(str(text), safe=""),
    )
    env.filters["status_class"] = lambda status: "st-" + str(status).replace(" ", "-")
    return env


def _parse_time(text: str) -> float:
    """A UTC time typed in a filter: ``YYYY-MM-DD[THH:MM[:SS]]`` (or a space for the T)."""
    text = text.strip().replace(" ", "T")
    for layout in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            moment = datetime.datetime.strptime(text, layout)
        except ValueError:
            continue
        return moment.replace(tzinfo=datetime.UTC).timestamp()
    raise ValueError(f"{text!r} is not a time: write YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)")


def _path(text: str) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        path = tuple(int(part) for part in text.split("."))
    except ValueError:
        raise LookupError(f"{text!r} is not a call path (child indexes joined by dots)") from None
    if any(index < 0 for index in path):
        raise LookupError(f"{text!r} is not a call path")
    return path


class UI:
    """The app's state: the store, the templates, the guard."""

    def __init__(self, store: Store, *, token: str | None, host: str) -> None:
        self.store = store
        self.env = _environment()
        self.token = token
        self.host = host
        self.guard: Guard | None = None

    async def work(self, function: Callable[..., T], *args: Any) -> T:
        """Runs `function` in a worker thread with the store active."""

        def call() -> T:
            with self.store:
                return function(*args)

        return await run_in_threadpool(call)

    def page(self, request: Request, template: str, status: int = 200, **values: Any) -> Response:
        values.setdefault("csrf", request.state.csrf)
        values.setdefault("request_path", request.url.path)
        body = self.env.get_template(template).render(**values)
        return HTMLResponse(body, status_code=status)

    def error(self, request: Request, status: int, message: str) -> Response:
        return self.page(request, "error.html", status, message=message, title="Not found")

    # Runs -------------------------------------------------------------------------

    def _filters(self, request: Request) -> tuple[_data.RunFilter, dict[str, str], list[str]]:
        query = request.query_params
        shown = {key: query.get(key, "") for key in ("status", "function", "since", "until")}
        problems: list[str] = []
        status = shown["status"] or None
        if status is not None and status not in STATUSES:
            problems.append(f"Unknown status {status!r}: one of {', '.join(STATUSES)}.")
            status = None
        times: dict[str, float | None] = {"since": None, "until": None}
        for key in times:
            if shown[key]:
                try:
                    times[key] = _parse_time(shown[key])
                except ValueError as err:
                    problems.append(f"{key}: {err}.")
        filters = _data.RunFilter(status, shown["function"].strip() or None, **times)
        return filters, shown, problems

    async def runs(self, request: Request) -> Response:
        filters, shown, problems = self._filters(request)
        before = request.query_params.get("before") or None
        page, calls = await self.work(self._page_with_calls, filters, before)
        live_after = page.newest if before is None else None
        if before is None and page.newest is None:
            live_after = _data.INDEX_PREFIX  # an empty store: every run is new
        return self.page(
            request,
            "runs.html",
            title="Runs",
            page=page,
            filters=shown,
            problems=problems,
            before=before,
            query=_query(shown),
            live_after=live_after,
            calls=calls,
        )

    def _page_with_calls(
        self, filters: _data.RunFilter, before: str | None
    ) -> tuple[_data.RunPage, dict[str, str]]:
        page = _data.run_page(self.store, filters, before)
        return page, {run.id: _data.call_text(self.store, run) for run in page.runs}

    async def live(self, request: Request) -> Response:
        filters, shown, _ = self._filters(request)
        after = request.query_params.get("after", _data.INDEX_PREFIX)
        if not after.startswith(_data.INDEX_PREFIX):
            after = _data.INDEX_PREFIX

        def read() -> tuple[_data.RunPage, dict[str, str]]:
            page = _data.runs_after(self.store, filters, after)
            return page, {run.id: _data.call_text(self.store, run) for run in page.runs}

        page, calls = await self.work(read)
        return self.page(
            request,
            "live.html",
            page=page,
            query=_query(shown),
            live_after=page.newest,
            calls=calls,
        )

    async def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        data = await self.work(self._run_data, run_id)
        if data is None:
            return self.error(request, 404, f"No run {run_id!r} in this store.")
        notice = request.query_params.get("notice", "")
        return self.page(request, "run.html", title=f"Run {run_id}", notice=notice, **data)

    def _run_data(self, run_id: str) -> dict[str, Any] | None:
        run = _data.find_run(self.store, run_id)
        if run is None:
            return None
        states, more_states = _data.history(run)
        tree = root_ref = None
        tree_error = None
        try:
            invocation = run.invocation()
            if invocation is not None:
                root_ref = self.store.commit(invocation)
                tree = _data.read_tree(self.store, invocation, timings=_timings_of(run))
        except EnactError as err:
            tree_error = str(err)
        pending: list[tuple[tuple[int, ...], InputRequest]] = []
        pending_error = None
        if run.state.status == "waiting":
            try:
                pending = [(path, req) for path, req, _ in run_input_requests(run)]
            except EnactError as err:
                pending_error = str(err)
        open_paths = {path[:depth] for path, _ in pending for depth in range(len(path) + 1)}
        return {
            "run": run,
            "states": states,
            "more_states": more_states,
            "tree": tree,
            "root": None if root_ref is None else root_ref.digest,
            "tree_error": tree_error,
            "pending": [
                (".".join(map(str, path)), _data.requested_label(req.requested), req)
                for path, req in pending
            ],
            "pending_error": pending_error,
            "open_paths": open_paths,
            "names": [
                _data.RUN_PREFIX + run.id,
                run_index_name(run.state),
            ],
        }

    async def subtree(self, request: Request) -> Response:
        digest = request.path_params["digest"]
        try:
            path = _path(request.query_params.get("path", ""))
        except LookupError as err:
            return self.error(request, 404, str(err))

        def read() -> _data.Node | str:
            ref: Ref[Any] = Ref._unchecked(digest)
            if len(digest) != 64 or not self.store.has(ref):
                return f"No invocation {digest} in this store."
            if _data.object_kind(self.store, ref) != "invocation":
                return f"{digest} is not an invocation."
            try:
                return _data.read_tree(self.store, self.store.checkout(ref), path)
            except (LookupError, EnactError) as err:
                return str(err)

        node = await self.work(read)
        if isinstance(node, str):
            return self.error(request, 404, node)
        return self.page(
            request, "subtree.html", node=node, root=digest, open_paths=set(), lazy=True
        )

    # Inbox and answers --------------------------------------------------------------

    async def inbox(self, request: Request) -> Response:
        before = request.query_params.get("before") or None
        found, page = await self.work(_data.inbox, self.store, before)
        return self.page(request, "inbox.html", title="Inbox", pending=found, page=page)

    def _form_data(self, run_id: str, path_text: str) -> dict[str, Any] | str:
        run = _data.find_run(self.store, run_id)
        if run is None:
            return f"No run {run_id!r} in this store."
        if run.state.status != "waiting":
            return (
                f"Run {run.id} waits for no input: its status is {run.status!r}. "
                "Only a waiting run can be answered."
            )
        try:
            pending = run_input_requests(run)
        except EnactError as err:
            return f"Cannot read the requests of run {run.id}: {err}"
        if not pending:
            return f"Run {run.id} waits for input, but no pending request was found."
        try:
            path = _path(path_text) if path_text else pending[0][0]
        except LookupError as err:
            return str(err)
        chosen = next((item for item in pending if item[0] == path), None)
        if chosen is None:
            return f"Run {run.id} has no pending input request at call {path_text!r}."
        _, request, _ = chosen
        program_error = None
        try:
            self.store.checkout(run.state.request)  # the program's types, before the form
        except EnactError as err:
            program_error = str(err)
        for_value = None
        try:
            value = request.for_value()
            for_value = (
                pretty.shorten(value, _data.DETAIL_LIMIT)
                if isinstance(value, str)
                else _data.safe_repr(value, _data.DETAIL_LIMIT)
            )
        except EnactError as err:
            for_value = f"(not readable: {err})"
        context = request.context
        return {
            "run": run,
            "path": path,
            "path_text": ".".join(map(str, path)),
            "input_request": request,
            "type_label": _data.requested_label(request.requested),
            "form": _forms.form_for(request),
            "for_value": for_value,
            "context_text": context if isinstance(context, str) else _data.safe_repr(context),
            "program_error": program_error,
        }

    async def answer_form(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        data = await self.work(self._form_data, run_id, request.query_params.get("path", ""))
        if isinstance(data, str):
            return self.error(request, 409, data)
        return self.page(
            request, "answer.html", title=f"Answer {run_id}", errors={}, values={}, **data
        )

    async def answer_post(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        assert self.guard is not None
        if not self.guard.check_csrf(request.state.session, fields.get(CSRF_FIELD, "")):
            return self.error(
                request,
                403,
                "Refused: the form's session token is missing or stale. Reload the page "
                "and answer again.",
            )
        data = await self.work(self._form_data, run_id, fields.get("path", ""))
        if isinstance(data, str):
            return self.error(request, 409, data)
        run: Run = data["run"]
        if fields.get("head") != run.head.digest:
            return self.error(
                request,
                409,
                f"Run {run.id} moved on since this form was shown (its head is now "
                f"{run.head.digest[:12]}, status {run.status!r}): open it again to see "
                "what it waits for.",
            )
        value, errors = _forms.parse_form(data["input_request"], data["form"], fields)
        run_now = fields.get("mode", "continue") != "record"
        if not errors and run_now and data["program_error"]:
            errors["answer"] = (
                "this process cannot run the program: "
                + data["program_error"]
                + " Record the answer only, or restart enact ui with --import MODULE."
            )
        if not errors:
            outcome = await self.work(self._answer, run, value, data["path"], run_now)
            if isinstance(outcome, Run):
                notice = (
                    f"Answered: the run is now {outcome.status}."
                    if run_now
                    else "Answer recorded: the run is answered; enact resume continues it."
                )
                location = f"/runs/{urllib.parse.quote(run.id, safe='')}?" + urllib.parse.urlencode(
                    {"notice": notice}
                )
                return RedirectResponse(location, status_code=303)
            errors["answer"] = outcome
        values = {key: value for key, value in fields.items() if key.startswith("answer")}
        return self.page(
            request,
            "answer.html",
            200,  # the form again, with its errors (an error status is a console error)
            title=f"Answer {run_id}",
            errors=errors,
            values=values,
            **data,
        )

    def _answer(self, run: Run, value: Any, path: tuple[int, ...], run_now: bool) -> Run | str:
        try:
            return answer(run, value, path, run_now=run_now)
        except RunConflictError as err:
            return f"not answered: {err}"
        except InputTypeError as err:
            return str(err).rstrip(".")
        except ReplayError as err:
            # The answer was recorded with the claim; the replay stopped before the
            # program went on (the code changed since the run was journaled).
            if get_run(run.id, store=run.store).status == "interrupted":
                return (
                    f"answer recorded, but the run stopped: {err}\nThe run is interrupted: "
                    f"once the code is fixed, `enact resume {run.id}` continues it with this "
                    "answer"
                )
            return f"not answered: {err}"
        except EnactError as err:
            return f"not answered: {err}"

    # Diffs and objects --------------------------------------------------------------

    async def diff(self, request: Request) -> Response:
        left = request.query_params.get("a", "").strip()
        right = request.query_params.get("b", "").strip()

        def read() -> dict[str, Any]:
            if not left or not right:
                return {"result": None, "errors": []}
            a, a_label, a_error = _data.invocation_of(self.store, left)
            b, b_label, b_error = _data.invocation_of(self.store, right)
            errors = [error for error in (a_error, b_error) if error]
            if a is None or b is None:
                return {"result": None, "errors": errors}
            result = _data.diff_trees(self.store, a, b)
            return {"result": result, "errors": [], "a_label": a_label, "b_label": b_label}

        data = await self.work(read)
        return self.page(request, "diff.html", title="Diff", a=left, b=right, **data)

    async def objects(self, request: Request) -> Response:
        text = request.query_params.get("ref", "").strip()
        if not text:
            return self.page(request, "object.html", title="Object", text="", found=None)

        def read() -> dict[str, Any]:
            found = _data.resolve(self.store, text)
            if found.ref is None:
                return {"found": found}
            type_name, raw = _data.raw_object(self.store, found.ref)
            decoded, decode_error = _data.decoded_repr(self.store, found.ref)
            return {
                "found": found,
                "type_name": type_name,
                "lines": _data.raw_lines(raw),
                "decoded": decoded,
                "decode_error": decode_error,
                "kind": _data.object_kind(self.store, found.ref),
            }

        try:
            data = await self.work(read)
        except EnactError as err:
            return self.error(request, 404, f"{text!r} cannot be read: {err}")
        status = 200 if data["found"].ref is not None else 404
        return self.page(request, "object.html", status, title="Object", text=text, **data)

    async def object_json(self, request: Request) -> Response:
        """Any object in the JSON schema of `enact.jsonview` (docs/JSON.md), and its name."""
        text = request.path_params["ref"]

        def read() -> tuple[Any, str | None]:
            found = _data.resolve(self.store, text)
            if found.ref is None:
                return None, found.error
            return {**jsonview.object_view(self.store, found.ref), "name": found.name}, None

        return await self._json(read)

    async def run_json(self, request: Request) -> Response:
        """A run (`jsonview.run`) with its pending input requests."""
        run_id = request.path_params["run_id"]

        def read() -> tuple[Any, str | None]:
            run = _data.find_run(self.store, run_id)
            if run is None:
                return None, f"No run {run_id!r} in this store."
            data = jsonview.run(run, call=_data.call_text(self.store, run))
            data["input_requests"] = jsonview.run_input_requests(self.store, run)
            return data, None

        return await self._json(read)

    async def tree_json(self, request: Request) -> Response:
        """An invocation's call tree (`jsonview.call_tree`), ``?depth=N`` levels."""
        digest = request.path_params["digest"]
        depth_text = request.query_params.get("depth", "")

        def read() -> tuple[Any, str | None]:
            if len(digest) != 64 or not self.store.has(Ref._unchecked(digest)):
                return None, f"No invocation {digest} in this store."
            depth = int(depth_text) if depth_text.isdigit() else None
            return jsonview.call_tree(self.store, digest, depth=depth), None

        return await self._json(read)

    async def _json(self, read: Callable[[], tuple[Any, str | None]]) -> Response:
        try:
            body, error = await self.work(read)
        except EnactError as err:
            body, error = None, str(err)
        if body is None:
            return JSONResponse({"error": error}, status_code=404)
        return Response(jsonview.dumps(body, indent=2), media_type="application/json")

    async def index(self, request: Request) -> Response:
        return RedirectResponse("/runs", status_code=307)

    async def indent_css(self, request: Request) -> Response:
        return Response(_INDENT_CSS, media_type="text/css")

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "time": time.time()})


def _query(shown: dict[str, str]) -> str:
    """The filters as a query string (for paging links and live updates)."""
    return urllib.parse.urlencode({key: value for key, value in shown.items() if value})


_Endpoint = Callable[[Request], Awaitable[Response]]


def _page_with_json(path: str, page: _Endpoint, as_json: _Endpoint) -> tuple[Route, Route]:
    """The routes of a page and of its JSON form (``path.json``), the JSON one first:
    ``{run_id}`` also matches ``x.json``, so the page's route would take its requests."""
    return Route(f"{path}.json", as_json), Route(path, page)


def create_app(store: Store, *, token: str | None = None, host: str = "127.0.0.1") -> Any:
    """The ASGI application of ``enact ui`` for `store`.

    Args:
        store: The store to show (kept open by the caller).
        token: The access token: when given, every request needs it (once, as
            ``?token=``, which sets a cookie).
        host: The address the server listens on (which Host headers are allowed).
    """
    ui = UI(store, token=token, host=host)
    routes = [
        Route("/", ui.index),
        Route("/health", ui.health),
        Route("/indent.css", ui.indent_css),
        Route("/runs", ui.runs),
        Route("/runs/live", ui.live),
        *_page_with_json("/runs/{run_id}", ui.run, ui.run_json),
        Route("/runs/{run_id}/answer", ui.answer_form, methods=["GET"]),
        Route("/runs/{run_id}/answer", ui.answer_post, methods=["POST"]),
        *_page_with_json("/tree/{digest}", ui.subtree, ui.tree_json),
        Route("/inbox", ui.inbox),
        Route("/diff", ui.diff),
        Route("/objects", ui.objects),
        Route("/objects/{ref:path}.json", ui.object_json),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    guard = Guard(Starlette(routes=routes), token)
    ui.guard = guard
    # The Host check comes first: a request for another site's name never reaches the app.
    return TrustedHostMiddleware(guard, allowed_hosts=allowed_hosts(host, token))


def _timings_of(run: Run) -> Timings | None:
    """The run's call timings, or None when they cannot be read (a damaged record)."""
    try:
        return run.timings()
    except EnactError:
        return None
