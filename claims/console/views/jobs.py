"""Views of the background analysis jobs."""

from __future__ import annotations


from starlette.requests import Request

from .. import store
from ..auth import User
from ..db import Database
from ..jobs import JobRunner, job_dict, list_jobs
from ..http import HTTPError, Page, Done


async def jobs_view(request: Request, user: User):
    db: Database = request.app.state.db
    runner: JobRunner = request.app.state.jobs
    jobs = await db.aread(list_jobs)
    return Page("jobs.html", {"jobs": jobs, "stance_available": runner.stance_available,
                              "model_error": runner.model_error})


async def job_view(request: Request, user: User):
    db: Database = request.app.state.db
    jid = request.path_params["id"]
    row = await db.aread(lambda c: c.one("SELECT * FROM jobs WHERE id = ?", (jid,)))
    if row is None:
        raise store.NotFound(f"no job {jid}")
    job = job_dict(row)
    ids = job["params"].get("articles", [])
    arts = await db.aread(lambda c: [c.one("SELECT id, title, analysis, error, n_claims FROM articles WHERE id = ?",
                                           (i,)) for i in ids[:500]])
    job["articles"] = [a for a in arts if a]
    return Page("job.html", job)


async def job_retry_view(request: Request, user: User):
    if not user.is_admin:
        raise HTTPError(403, "only admins retry jobs")
    jid = request.path_params["id"]
    job = await request.app.state.db.awrite(JobRunner.retry, jid, user.name)
    request.app.state.jobs.wake()
    return Done({"job": job}, f"/jobs/{jid}", 202)
