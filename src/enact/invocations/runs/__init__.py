"""Runs: one identity per top-level invocation, its head state, and its journal.

Every top-level `invoke` starts a *run*. A run's states are `RunState`
resources chained by ``previous``, and its *head* (the latest state) is the
store name ``runs/<run id>``, moved only by compare-and-set. So any process
that continues a run -- answers it, resumes it -- first *claims* it: it moves
the head from the state it read to a ``running`` state that names the
process and a lease. A second process that tries the same loses the
compare-and-set and gets `RunConflictError` before any program code runs.

With per-call durability (the default) each finished call is recorded as a
journal entry, the name ``enact/journal/<run>/<seq>/<path>/<request digest>``
pointing at the call's response, written in one backend call with the
request and the response. A crash loses at most the calls still running;
resuming reads the entries in order (one range scan) and rebuilds the
template for a replay. When a run's state has a committed invocation tree
(the run returned or raised), its entries are folded into that tree and
deleted.

Workers (`Worker`, ``enact worker``) continue runs that were submitted
(`submit`), answered without running, or interrupted, taking them from the
store's ready queue (`enact.stores.ready`); the head compare-and-set stays
the only authority on who runs a run.

Listing runs newest first uses ``enact/run-index/<created ns>/<run id>``,
written once when the run starts, so a page of runs costs a page of names.
"""

# The package's modules, lowest layer first; every name is re-exported here.
from enact.invocations.runs._api import (
    RESUMABLE as RESUMABLE,
)
from enact.invocations.runs._api import (
    _tree as _tree,
)
from enact.invocations.runs._api import (
    check_sync_here as check_sync_here,
)
from enact.invocations.runs._api import (
    continue_plan as continue_plan,
)
from enact.invocations.runs._api import (
    fork as fork,
)
from enact.invocations.runs._api import (
    invoke as invoke,
)
from enact.invocations.runs._api import (
    invoke_async as invoke_async,
)
from enact.invocations.runs._api import (
    prepare_root as prepare_root,
)
from enact.invocations.runs._api import (
    record_answer as record_answer,
)
from enact.invocations.runs._api import (
    resume as resume,
)
from enact.invocations.runs._api import (
    resume_async as resume_async,
)
from enact.invocations.runs._api import (
    run_claimed as run_claimed,
)
from enact.invocations.runs._api import (
    run_plan as run_plan,
)
from enact.invocations.runs._claims import (
    _SUPPORTS_MEMO as _SUPPORTS_MEMO,
)
from enact.invocations.runs._claims import (
    CLAIMABLE as CLAIMABLE,
)
from enact.invocations.runs._claims import (
    RunHandle as RunHandle,
)
from enact.invocations.runs._claims import (
    _compare_and_set as _compare_and_set,
)
from enact.invocations.runs._claims import (
    _journal_end as _journal_end,
)
from enact.invocations.runs._claims import (
    _Leases as _Leases,
)
from enact.invocations.runs._claims import (
    _leases as _leases,
)
from enact.invocations.runs._claims import (
    claim as claim,
)
from enact.invocations.runs._claims import (
    run_conflict as run_conflict,
)
from enact.invocations.runs._claims import (
    start_run as start_run,
)
from enact.invocations.runs._claims import (
    supports_runs as supports_runs,
)
from enact.invocations.runs._journal import (
    _JOURNAL_MEMO as _JOURNAL_MEMO,
)
from enact.invocations.runs._journal import (
    _OVERLAY_MEMO as _OVERLAY_MEMO,
)
from enact.invocations.runs._journal import (
    JournalEntry as JournalEntry,
)
from enact.invocations.runs._journal import (
    _apply as _apply,
)
from enact.invocations.runs._journal import (
    _fetch_journal as _fetch_journal,
)
from enact.invocations.runs._journal import (
    _journal_prefix as _journal_prefix,
)
from enact.invocations.runs._journal import (
    _materialize as _materialize,
)
from enact.invocations.runs._journal import (
    _Node as _Node,
)
from enact.invocations.runs._journal import (
    _overlay as _overlay,
)
from enact.invocations.runs._journal import (
    _template as _template,
)
from enact.invocations.runs._journal import (
    entry_name as entry_name,
)
from enact.invocations.runs._journal import (
    read_journal as read_journal,
)
from enact.invocations.runs._lookup import (
    ENDED as ENDED,
)
from enact.invocations.runs._lookup import (
    Run as Run,
)
from enact.invocations.runs._lookup import (
    _read_state as _read_state,
)
from enact.invocations.runs._lookup import (
    get_run as get_run,
)
from enact.invocations.runs._lookup import (
    list_runs as list_runs,
)
from enact.invocations.runs._lookup import (
    recorded_answers as recorded_answers,
)
from enact.invocations.runs._lookup import (
    scan_runs as scan_runs,
)
from enact.invocations.runs._lookup import (
    state_invocation as state_invocation,
)
from enact.invocations.runs._lookup import (
    upper_bound as upper_bound,
)
from enact.invocations.runs._lookup import (
    wait as wait,
)
from enact.invocations.runs._ready import (
    DEFAULT_QUEUE as DEFAULT_QUEUE,
)
from enact.invocations.runs._ready import (
    PUT_GRACE as PUT_GRACE,
)
from enact.invocations.runs._ready import (
    queue_limits as queue_limits,
)
from enact.invocations.runs._ready import (
    set_queue_limit as set_queue_limit,
)
from enact.invocations.runs._state import (
    _RUN_ID as _RUN_ID,
)
from enact.invocations.runs._state import (
    INDEX_PREFIX as INDEX_PREFIX,
)
from enact.invocations.runs._state import (
    JOURNAL_PREFIX as JOURNAL_PREFIX,
)
from enact.invocations.runs._state import (
    LEASE_SECONDS as LEASE_SECONDS,
)
from enact.invocations.runs._state import (
    RUN_PREFIX as RUN_PREFIX,
)
from enact.invocations.runs._state import (
    STATUSES as STATUSES,
)
from enact.invocations.runs._state import (
    Durability as Durability,
)
from enact.invocations.runs._state import (
    RunState as RunState,
)
from enact.invocations.runs._state import (
    Status as Status,
)
from enact.invocations.runs._state import (
    _function_name as _function_name,
)
from enact.invocations.runs._state import (
    _is_input_request as _is_input_request,
)
from enact.invocations.runs._state import (
    _is_zombie as _is_zombie,
)
from enact.invocations.runs._state import (
    _owner_alive as _owner_alive,
)
from enact.invocations.runs._state import (
    check_run_id as check_run_id,
)
from enact.invocations.runs._state import (
    new_run_id as new_run_id,
)
from enact.invocations.runs._state import (
    process_owner as process_owner,
)
from enact.invocations.runs._state import (
    run_index_name as run_index_name,
)
from enact.invocations.runs._submit import (
    Retries as Retries,
)
from enact.invocations.runs._submit import (
    call_key as call_key,
)
from enact.invocations.runs._submit import (
    requeue_copied_runs as requeue_copied_runs,
)
from enact.invocations.runs._submit import (
    retries as retries,
)
from enact.invocations.runs._submit import (
    retry_policy as retry_policy,
)
from enact.invocations.runs._submit import (
    submit as submit,
)
from enact.invocations.runs._worker import (
    Worker as Worker,
)
from enact.invocations.runs._worker import (
    WorkerShutdown as WorkerShutdown,
)
from enact.invocations.runs._worker import (
    WorkerStats as WorkerStats,
)
from enact.invocations.runs._worker import (
    run_worker as run_worker,
)
