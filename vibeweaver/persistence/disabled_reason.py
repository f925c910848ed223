"""Why a rule was disabled by vibeweaver itself, stored with the rule.

The reason lives in the rule's `action_params` JSON object under `disabled_reason` (rule decoding
ignores keys it does not know), so it is committed with the enabled flag in one row write and
survives restarts. The session summary lists it under Disabled Rules and `rules()` shows it.
Set when the kernel disables a callback (its source no longer defines, or it kept failing);
removed when the rule is enabled again.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from vibeweaver.persistence.records import RuleRecord

KEY = "disabled_reason"


def _params(record: RuleRecord) -> dict[str, Any] | None:
    try:
        params = json.loads(record.action_params)
    except ValueError:
        return None
    return params if isinstance(params, dict) else None


def disabled_reason(record: RuleRecord) -> str | None:
    """The stored reason, if vibeweaver disabled the rule and it was not enabled since."""
    params = _params(record)
    reason = None if params is None else params.get(KEY)
    return str(reason) if reason else None


def with_disabled_reason(record: RuleRecord, reason: str | None) -> RuleRecord:
    """`record` with `reason` stored (None removes it); the enabled flag is left as it is."""
    params = _params(record)
    if params is None:
        if reason is None:
            return record
        params = {"raw": record.action_params}
    if reason is None:
        if KEY not in params:
            return record
        params.pop(KEY)
    else:
        params[KEY] = reason
    return replace(record, action_params=json.dumps(params, separators=(",", ":")))
