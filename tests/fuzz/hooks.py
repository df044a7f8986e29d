"""Schemathesis hooks (loaded through ``SCHEMATHESIS_HOOKS``) that keep a fuzz run able to
go on: the fuzzer may revoke any token but the one it authenticates with."""

import os

import schemathesis

OWN_TOKEN_ID = os.environ.get("OPTIFLOW_FUZZ_TOKEN_ID", "")


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    """Every phase (examples, coverage, fuzzing, stateful) calls through here, so this is the
    one place a revocation of the fuzzer's own token can be turned into one of an unknown id."""
    own = str((case.path_parameters or {}).get("id")) == OWN_TOKEN_ID
    if case.method == "DELETE" and case.path.endswith("/tokens/{id}") and own:
        case.path_parameters["id"] = 0
