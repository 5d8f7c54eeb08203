"""The review state of a claim, and how a reviewer's action moves it.

States: ``pending`` (found by the model, not reviewed), ``added`` (a reviewer's own claim),
``accepted``, ``edited`` (its spans, speaker or form changed by a reviewer), ``rejected``.

    action   from                                  to
    accept   pending, rejected                     accepted (others keep their state)
    reject   any                                   rejected
    reset    any                                   pending (the model's) or added (a reviewer's)
    edit     any                                   unchanged (a field edit alone may change it, below)

An edit of the spans, speaker or form moves a pending or accepted claim to ``edited``, unless the
same change rejects it. Rating a claim or setting its stances changes no state.
"""

from __future__ import annotations

from typing import Optional

CLAIM_STATUSES = ("pending", "accepted", "edited", "added", "rejected")
ACTIONS = ("accept", "reject", "reset", "edit")
SPAN_FIELDS = ("content", "cue", "source", "speaker", "form")


class BadAction(ValueError):
    """An action that is not one of ``ACTIONS``."""


def check_action(action: Optional[str]) -> None:
    if action not in (None, "", *ACTIONS):
        raise BadAction(f"action must be {', '.join(ACTIONS[:-1])} or {ACTIONS[-1]}")


def next_status(status: str, action: Optional[str], origin: str, span_edit: bool) -> str:
    """The state after a reviewer's change: ``action`` (or none), on a claim of ``origin``
    (``model`` or a reviewer's), with ``span_edit`` when spans, speaker or form were edited."""
    check_action(action)
    if action == "accept":
        status = "accepted" if status in ("pending", "rejected") else status
    elif action == "reject":
        status = "rejected"
    elif action == "reset":
        status = "pending" if origin == "model" else "added"
    if span_edit and status in ("pending", "accepted") and action != "reject":
        status = "edited"
    return status
