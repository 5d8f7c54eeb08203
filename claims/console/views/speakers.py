"""Views of the speakers × disputes table and the evidence behind a cell."""

from __future__ import annotations


from starlette.requests import Request

from .. import speakers
from ..auth import User
from ..http import Page


async def speakers_view(request: Request, user: User):
    data = await request.app.state.db.aread(speakers.matrix)
    return Page("speakers.html", data, extra={"positions": speakers.POSITIONS})


async def evidence_view(request: Request, user: User):
    q = request.query_params
    data = await request.app.state.db.aread(speakers.evidence, q.get("speaker", ""), q.get("dispute", ""))
    return Page("evidence.html", data)
