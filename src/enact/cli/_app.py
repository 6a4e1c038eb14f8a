"""The `enact` command group: global options, the store, consoles and one-line errors."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from enact import registry
from enact.cli._safe import SafeConsole
from enact.errors import EnactError, ReplayError, StorageError, UnknownTypeError
from enact.stores import urls
from enact.stores.store import Store

F = TypeVar("F", bound=Callable[..., Any])

DEBUG_ENV: Final = "ENACT_DEBUG"
"""Set to show the traceback of unexpected errors (bugs) instead of one line."""

_PIPE_WIDTH: Final = 1 << 16  # piped output: no wrapping, one line per record


class CLIError(click.ClickException):
    """A failure the command reports as one line on standard error (exit code 1)."""

    def show(self, file: Any = None) -> None:
        print_error(self.message)


RAISED_EXIT: Final = 3
"""The exit status of `enact replay`, `resume` and `answer` when the run they produce raised."""


class RunRaisedError(CLIError):
    """The run a command produced raised: one line naming the exception (exit code 3)."""

    exit_code = RAISED_EXIT


def print_error(message: str, *, more: list[str] | None = None) -> None:
    """Prints ``enact: message`` as one line on standard error, red in a terminal.

    `more` lines (a ReplayError's details) follow as they are.
    """
    line = " ".join(message.split())
    error_console().print(Text(f"enact: {line}", style="red"), soft_wrap=True)
    for extra in more or ():
        error_console().print(Text(extra), soft_wrap=True)


def make_console(*, stderr: bool = False) -> Console:
    """A console that colours and wraps in a terminal and prints plain lines when piped.

    Rich leaves out colours when the stream is not a terminal or ``NO_COLOR``
    is set; when piped (and ``COLUMNS`` is not set), lines are not wrapped either,
    so that each record stays on one line for grep and friends. Stored text
    is printed as text (`SafeConsole`: no markup, control characters escaped).
    """
    console = SafeConsole(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = SafeConsole(stderr=stderr, width=_PIPE_WIDTH)
    return console


_error_console: Console | None = None


def error_console() -> Console:
    """The console for standard error (errors, warnings, progress bars)."""
    global _error_console
    if _error_console is None:
        _error_console = make_console(stderr=True)
    return _error_console


class Session:
    """What the commands of one ``enact`` run share: the store URL, the store, the consoles.

    Args:
        url: The ``--store`` URL.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.out = make_console()
        self.err = error_console()
        self._store: Store | None = None
        self._exit = contextlib.ExitStack()
        self.subject: str | None = None
        """The REF being worked on, named in error messages (set by `_refs.resolve_for`)."""

    @property
    def where(self) -> str:
        """The store URL as messages show it (password masked)."""
        return describe_url(self.url)

    def store(self) -> Store:
        """Opens the store (once) and makes it the active store.

        Raises:
            CLIError: The store does not exist or cannot be opened.
        """
        if self._store is None:
            self._store = open_url(self.url, create=False)
            self._exit.callback(self._store.close)
            self._exit.enter_context(self._store)
        return self._store

    def close(self) -> None:
        """Leaves and closes the store."""
        self._exit.close()


def describe_url(url: str) -> str:
    """Returns `url` with any password masked."""
    return urls._redact(url)


def open_url(url: str, *, create: bool) -> Store:
    """Opens the store at `url`; unless `create`, a local store must already exist.

    Raises:
        CLIError: The URL is malformed, the store does not exist (and `create`
            is false), or it cannot be opened.
    """
    where = describe_url(url)
    try:
        path = _local_path(url)
        if path is not None and not create and not path.exists():
            raise CLIError(
                f"No store at {path.absolute()} (store {where}): check --store or ENACT_STORE; the "
                "store is created when a program first commits to it."
            )
        return urls.open_store(url)
    except ImportError as err:
        raise CLIError(str(err)) from err
    except StorageError as err:
        raise CLIError(f"Cannot open store {where}: {err}") from err


def _local_path(url: str) -> Path | None:
    """The file or directory of a ``sqlite:`` or ``file:`` URL (None for other stores)."""
    scheme, _, rest = url.partition(":")
    body = rest.partition("?")[0]
    if scheme.lower() == "sqlite":
        return Path(urls._sqlite_path(url, body))
    if scheme.lower() == "file":
        return Path(urls._file_path(url, body))
    return None


# --import -------------------------------------------------------------------------


def import_modules(names: tuple[str, ...]) -> None:
    """Imports the modules that register the user's types, by name.

    The working directory is searched too (after ``sys.path``), as with
    ``python -m``, so that ``--import mymodule`` finds ``./mymodule.py``.

    Raises:
        CLIError: A module cannot be imported.
    """
    cwd = os.getcwd()
    if names and cwd not in sys.path:
        sys.path.append(cwd)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as err:
            raise CLIError(
                f"Cannot import module {name!r} (from --import): {type(err).__name__}: {err}. "
                "Check the name, and that its directory is the working directory or on "
                "PYTHONPATH."
            ) from err


def _import_callback(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    import_modules(value)


def import_option(*, envvar: str | None = None) -> Callable[[F], F]:
    """The ``--import MODULE`` option (repeatable), for the group and each command."""
    return click.option(
        "--import",
        "imports",
        multiple=True,
        metavar="MODULE",
        envvar=envvar,
        expose_value=False,
        is_eager=True,
        callback=_import_callback,
        help="Import MODULE first, so that the types it registers can be read "
        "(repeatable)." + (f" Default: ${envvar}, separated by spaces." if envvar else ""),
    )


def _store_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    session = ctx.find_object(Session)
    if value and session is not None:
        session.url = value


def command_options(function: F) -> F:
    """``--store`` and ``--import`` on each command too, so that they may follow its name."""
    function = click.option(
        "--store",
        metavar="URL",
        default=None,
        expose_value=False,
        callback=_store_callback,
        help="The store (as --store before the command).",
    )(function)
    return import_option()(function)


# Progress -------------------------------------------------------------------------


@contextlib.contextmanager
def progress_bars(console: Console) -> Iterator[Callable[[str, int, int | None], None]]:
    """Yields a ``progress(stage, done, total)`` callback that draws one bar per stage.

    Drawn only in a terminal; a stage with an unknown total shows a pulsing bar.
    """
    bars = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        task = tasks.get(stage)
        if task is None:
            task = tasks[stage] = bars.add_task(stage, total=total)
        bars.update(task, completed=done, total=total)

    with bars:
        yield update
        for task in tasks.values():  # a finished stage of unknown size shows as full
            done = bars.tasks[task].completed
            bars.update(task, total=max(done, 1), completed=max(done, 1))


# Errors -----------------------------------------------------------------------------


def error_message(err: BaseException) -> str:
    """The one line shown for an error: what failed, where, and what to do."""
    if isinstance(err, UnknownTypeError):
        return unknown_type_message(err)
    text = str(err) or type(err).__name__
    notes = getattr(err, "__notes__", None)
    if notes:
        text += " " + " ".join(str(note) for note in notes)
    if not isinstance(err, EnactError):
        text = f"{type(err).__name__}: {text}"
    return text


_RAW_HINT: Final = "(enact show --raw and enact tree --raw read objects without their types.)"


def unknown_type_message(err: UnknownTypeError) -> str:
    """Says which type could not be read and which ``--import`` would help."""
    name = err.type_name
    if "." not in name:  # not a type: a packing (encryption, compression) of a Ref subclass
        return f"{err} Pass --import MODULE to import it."
    module = name.rpartition(".")[0]
    if module == "__main__" or module.startswith("__main__."):
        return f"{registry.script_type_message(name)} {_RAW_HINT}"
    if module in sys.modules:  # imported, but its class has other fields than the stored type
        return str(err)
    return (
        f"Type {name} is not registered: pass --import MODULE naming the module that "
        f"defines and registers it (probably --import {module}). "
        f"{_RAW_HINT}"
    )


STORE_HELP: Final = (
    "The store: sqlite:///PATH (three slashes for a relative path, four for an absolute "
    "one), file:///DIR, postgresql://HOST/DB or memory:."
)


_session: Session | None = None  # of the running command, for error messages


class _Group(click.Group):
    """Lists the commands in the order they were added, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--store",
    "store_url",
    envvar=urls.STORE_URL_ENV,
    default=urls.DEFAULT_STORE_URL,
    show_default=True,
    show_envvar=True,
    metavar="URL",
    help=STORE_HELP,
)
@import_option(envvar="ENACT_IMPORT")
@click.version_option(package_name="enact", prog_name="enact")
@click.pass_context
def cli(ctx: click.Context, store_url: str) -> None:
    """Look into, replay, answer, verify and move enact journals.

    REF names an object: a name (see `enact log`), a full digest, a unique
    prefix of one (4 or more hex digits), or @N for the N-th most recent run
    (@1, or just @, is the latest), or a run id. `show` and `tree` of a run show
    its latest state's invocation.

    Exit status: 0 success; 1 an error (unknown ref, store, types, a run claimed
    by another process); 2 a usage error; 3 the run `replay`, `resume` or `answer`
    produced raised an exception (its summary is printed).
    """
    global _session
    session = _session = Session(store_url or urls.DEFAULT_STORE_URL)
    ctx.obj = session
    ctx.call_on_close(session.close)


def _error_prefix() -> str:
    """``REF in store URL: ``, naming what the failed command was working on."""
    subject = None if _session is None else _session.subject
    where = "" if _session is None else f" in store {_session.where}"
    return "" if subject is None else f"{subject}{where}: "


def main(argv: list[str] | None = None) -> None:
    """Runs the ``enact`` command and exits with its status.

    Every expected failure (unknown or ambiguous ref, unreachable store,
    unregistered type, corrupt object, bad answer, run claimed elsewhere) ends
    as one line on standard error and exit status 1; usage errors exit with 2;
    a run that `replay`, `resume` or `answer` produced and that raised exits with 3.
    """
    sys.set_int_max_str_digits(0)  # show stored ints of any size
    try:
        result = cli.main(args=argv, prog_name="enact", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except click.ClickException as err:
        err.show()
        code = err.exit_code
    except click.Abort:
        print_error("Aborted.")
        code = 1
    except ReplayError as err:  # several lines: where, what differs, how to fix it
        first, *more = "\n".join([str(err), *getattr(err, "__notes__", ())]).split("\n")
        print_error(_error_prefix() + first, more=more)
        code = 1
    except EnactError as err:
        print_error(_error_prefix() + error_message(err))
        code = 1
    except BrokenPipeError:
        # The reader went away (``enact log | head``): stop quietly.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    except KeyboardInterrupt:
        code = 130
    except Exception as err:
        if os.environ.get(DEBUG_ENV):
            raise
        print_error(
            f"Unexpected error: {error_message(err)} (set {DEBUG_ENV}=1 to see the "
            "traceback, and please report it)."
        )
        code = 1
    sys.exit(code)
