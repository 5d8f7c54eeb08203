"""The review states of a claim (claims/console/claim_state.py), every action from every state."""

import pytest

from claims.console.claim_state import ACTIONS, CLAIM_STATUSES, BadAction, next_status

# (state, action, origin) -> state, without a span edit
EXPECTED = {
    "accept": {"pending": "accepted", "rejected": "accepted", "accepted": "accepted", "edited": "edited",
               "added": "added"},
    "reject": dict.fromkeys(CLAIM_STATUSES, "rejected"),
    "edit": {s: s for s in CLAIM_STATUSES},
    None: {s: s for s in CLAIM_STATUSES},
}


@pytest.mark.parametrize("status", CLAIM_STATUSES)
@pytest.mark.parametrize("action", [a for a in ACTIONS if a != "reset"] + [None])
def test_actions_without_an_edit(status, action):
    assert next_status(status, action, "model", span_edit=False) == EXPECTED[action][status]


@pytest.mark.parametrize("status", CLAIM_STATUSES)
def test_reset_returns_to_where_the_claim_came_from(status):
    assert next_status(status, "reset", "model", False) == "pending"
    assert next_status(status, "reset", "reviewer", False) == "added"
    assert next_status(status, "reset", "model", True) == "edited"     # reset and edit at once
    assert next_status(status, "reset", "reviewer", True) == "added"


def test_an_edit_marks_pending_and_accepted_claims_edited_unless_rejected():
    assert next_status("pending", None, "model", True) == "edited"
    assert next_status("accepted", "edit", "model", True) == "edited"
    assert next_status("pending", "accept", "model", True) == "edited"
    assert next_status("added", None, "reviewer", True) == "added"
    assert next_status("rejected", None, "model", True) == "rejected"
    assert next_status("pending", "reject", "model", True) == "rejected"


def test_unknown_action_is_refused():
    with pytest.raises(BadAction, match="action must be accept, reject, reset or edit"):
        next_status("pending", "approve", "model", False)
