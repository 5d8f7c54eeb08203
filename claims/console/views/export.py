"""Views of the exports (CSV, JSONL, ClaimReview)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import StreamingResponse

from .. import export, store
from ..auth import User
from ..db import Database
from ..http import Page, Raw


async def export_index_view(request: Request, user: User):
    return Page("export.html", {"formats": [{"name": k, "type": v[0], "description": v[1], "path": f"/export/{k}"}
                                            for k, v in export.FORMATS.items()]})


async def export_view(request: Request, user: User):
    name = request.path_params["name"]
    if name not in export.FORMATS:
        raise store.NotFound(f"no export {name!r}; choose one of {', '.join(export.FORMATS)}")
    db: Database = request.app.state.db
    include_rejected = request.query_params.get("include_rejected") in ("1", "true", "yes")

    def produce(c) -> list[str]:
        if name == "results.jsonl":
            return list(export.results_jsonl(c, include_rejected))
        if name == "claims.csv":
            return list(export.claims_csv(c, include_rejected))
        if name == "claimreview.jsonld":
            doc = export.claimreview_jsonld(c, request.app.state.org, request.app.state.public_url)
            return [json.dumps(doc, ensure_ascii=False, indent=1) + "\n"]
        if name == "training-attribution.jsonl":
            return list(export.training_attribution(c))
        return list(export.training_stance(c))

    chunks = await db.aread(produce)
    mime = export.FORMATS[name][0]
    headers = {"Content-Disposition": f'attachment; filename="claims-{name}"'}
    return Raw(StreamingResponse(iter(chunks), media_type=mime, headers=headers))
