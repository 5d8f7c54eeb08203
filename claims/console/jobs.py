"""Background analysis: one worker thread runs queued jobs with one Analyzer, loaded on first use.

Jobs live in the ``jobs`` table, so progress is visible to every page. A runner (the server's, or
``claims import --analyze``) takes a job with a lease of ``LEASE_SECONDS`` that it renews while it
works; a job whose runner died (its lease ran out) is taken again by the next runner, and one whose
runner is alive never is, so a restart does not run a job twice. Admins can retry a failed job.
Two kinds:

* ``analyze``: extract claims (and stances, if a stance model is installed) for new articles,
  in small batches through ``Analyzer.analyze_many``; each article's result is stored as soon as
  it is ready, and one failing article is recorded without stopping the rest;
* ``rescore``: the stance of every stored claim toward one (new or edited) dispute, through
  ``Analyzer.score_stance`` on the claims as they are now (corrections included); reviewers'
  labels are kept.

The analyzer comes from a factory given to the app (tests inject a stand-in there).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import socket
import threading
import time
from typing import Callable, Optional

from ..doc import ArticleResult
from . import store
from .db import Database, now

log = logging.getLogger("claims.console")

LEASE_SECONDS = 60.0


def _later(seconds: float) -> str:
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


STANCE_DISABLED = ("No stance model is installed, so stances stay empty and rescoring is disabled. Train one "
                   "with `python -m training.stance --install` (or set CLAIMS_STANCE_MODEL) and restart the console.")


def default_analyzer_factory():
    """The shipped models (``CLAIMS_ATTRIBUTION_MODEL`` / ``CLAIMS_STANCE_MODEL`` override them)."""
    from ..analyzer import Analyzer
    return Analyzer()


class JobRunner:
    def __init__(self, db: Database, analyzer_factory: Callable[[], object] = default_analyzer_factory,
                 batch_size: int = 4, poll_seconds: float = 2.0):
        self.db = db
        self.analyzer_factory = analyzer_factory
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._analyzer = None
        self._analyzer_error: Optional[str] = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._current: Optional[int] = None
        self._renewer: Optional[threading.Thread] = None

    # -- what the pages ask ------------------------------------------------------------------

    @property
    def stance_available(self) -> Optional[bool]:
        """True / False once the analyzer is loaded; None before."""
        if self._analyzer is None:
            return None
        return getattr(self._analyzer, "stance", None) is not None

    @property
    def model_error(self) -> Optional[str]:
        return self._analyzer_error

    # -- submitting (inside the caller's write transaction) ------------------------------------

    @staticmethod
    def add_job(c, kind: str, params: dict, total: int, user: str) -> int:
        return int(c.insert("INSERT INTO jobs (kind, status, params, total, created_by, created_at) "
                            "VALUES (?, 'queued', ?, ?, ?, ?) RETURNING id",
                            (kind, json.dumps(params), total, user, now())))

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        # a job left running by a runner that died is taken again once its lease runs out (run_next)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="claims-jobs", daemon=True)
        self._thread.start()
        self.wake()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until no job is queued or running (tests, ``claims import --wait``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = self.db.conn().value("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running')")
            if not n:
                return True
            self.wake()
            time.sleep(0.02)
        return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_next()
            except Exception:  # noqa: BLE001 - the worker must outlive any one job
                log.exception("job runner")
                worked = False
            if not worked:
                self._idle.set()
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    # -- running -------------------------------------------------------------------------------

    def run_next(self) -> bool:
        """Run the oldest queued job; False if there was none."""
        with self.db.write() as c:
            # SQLite's BEGIN IMMEDIATE already serialises this; on PostgreSQL two console processes
            # sharing a database must not both take the same job
            lock = " FOR UPDATE SKIP LOCKED" if c.dialect == "postgresql" else ""
            job = c.one("SELECT * FROM jobs WHERE status = 'queued' OR (status = 'running' AND "
                        "(lease_until IS NULL OR lease_until < ?)) ORDER BY id LIMIT 1" + lock, (now(),))
            if job is None:
                return False
            if job["status"] == "running":
                log.warning("job %s: its runner %s stopped renewing its lease; running it again",
                            job["id"], job["lease_owner"])
            c.run("UPDATE jobs SET status = 'running', started_at = ?, lease_owner = ?, lease_until = ? WHERE id = ?",
                  (now(), self.owner, _later(LEASE_SECONDS), job["id"]))
        self._current = job["id"]
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, daemon=True, name="claims-job-lease")
            self._renewer.start()
        try:
            return self._run(job)
        finally:
            self._current = None

    def _renew(self) -> None:
        """Renew the lease of the job this runner is running, a third of the lease at a time."""
        while True:
            time.sleep(LEASE_SECONDS / 3)
            job_id = self._current
            if job_id is None:
                continue
            try:
                with self.db.write() as c:
                    c.run("UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND status = 'running'",
                          (_later(LEASE_SECONDS), job_id, self.owner))
            except Exception:  # noqa: BLE001 - a missed renewal is retried; the job goes on
                log.exception("renewing the lease of job %s", job_id)

    @staticmethod
    def retry(c, job_id: int, user: str) -> dict:
        """Queue a failed job again (or one whose runner died); its failed articles are analysed again."""
        job = c.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if job is None:
            raise store.NotFound(f"no job {job_id}")
        dead = job["status"] == "running" and (job["lease_until"] or "") < now()
        if job["status"] != "failed" and not dead:
            raise store.Invalid(f"job {job_id} is {job['status']}; only a failed job (or one whose runner stopped) "
                                "can be retried")
        c.run("UPDATE jobs SET status = 'queued', error = NULL, done = 0, failed = 0, finished_at = NULL, "
              "lease_owner = NULL, lease_until = NULL WHERE id = ?", (job_id,))
        if job["kind"] == "analyze":
            for aid in json.loads(job["params"] or "{}").get("articles", []):
                c.run("UPDATE articles SET analysis = 'pending', error = NULL WHERE id = ? "
                      "AND analysis IN ('failed', 'running')", (aid,))
        store.audit(c, user, "retry", "job", job_id, None, {"status": job["status"]}, {"status": "queued"})
        return job_dict(c.one("SELECT * FROM jobs WHERE id = ?", (job_id,)))

    def _run(self, job: dict) -> bool:
        params = json.loads(job["params"])
        try:
            analyzer = self._get_analyzer()
            if job["kind"] == "analyze":
                self._analyze(job, params, analyzer)
            elif job["kind"] == "rescore":
                self._rescore(job, params, analyzer)
            else:
                raise ValueError(f"unknown job kind {job['kind']!r}")
        except Exception as e:  # noqa: BLE001 - recorded on the job, shown on the jobs page
            log.exception("job %s failed", job["id"])
            message = f"{type(e).__name__}: {e}" if not isinstance(e, JobError) else str(e)
            with self.db.write() as c:
                c.run("UPDATE jobs SET status = 'failed', error = ?, finished_at = ?, lease_until = NULL WHERE id = ?",
                      (message, now(), job["id"]))
                if job["kind"] == "analyze":
                    ids = params.get("articles", [])
                    for aid in ids:
                        c.run("UPDATE articles SET analysis = 'failed', error = ? WHERE id = ? "
                              "AND analysis IN ('pending', 'running')", (message, aid))
            return True
        with self.db.write() as c:
            c.run("UPDATE jobs SET status = 'done', finished_at = ?, lease_until = NULL WHERE id = ?",
                  (now(), job["id"]))
        return True

    def _get_analyzer(self):
        if self._analyzer is None:
            try:
                self._analyzer = self.analyzer_factory()
                self._analyzer_error = None
            except Exception as e:  # noqa: BLE001 - e.g. no model installed: say so on every job
                self._analyzer_error = f"the model could not be loaded: {e}"
                raise JobError(self._analyzer_error) from e
        return self._analyzer

    def _analyze(self, job: dict, params: dict, analyzer) -> None:
        ids = [int(x) for x in params.get("articles", [])]
        disputes = self.db.read(store.dispute_objects)
        for b in range(0, len(ids), self.batch_size):
            chunk = ids[b:b + self.batch_size]
            with self.db.write() as c:
                rows = [c.one("SELECT id, text, analysis FROM articles WHERE id = ?", (aid,)) for aid in chunk]
                rows = [r for r in rows if r is not None and r["analysis"] in ("pending", "running", "failed")]
                for r in rows:
                    store.mark_analysis(c, r["id"], "running")
            results = analyzer.analyze_many([(str(r["id"]), r["text"]) for r in rows], disputes=disputes)
            for r, res in zip(rows, results):
                res = res if isinstance(res, ArticleResult) else ArticleResult.from_dict(res)
                if not res.text:
                    res.text = r["text"]
                with self.db.write() as c:
                    store.store_result(c, r["id"], res)
                    c.run("UPDATE jobs SET done = done + 1, failed = failed + ? WHERE id = ?",
                          (1 if res.error else 0, job["id"]))
            skipped = len(chunk) - len(rows)
            if skipped:
                with self.db.write() as c:
                    c.run("UPDATE jobs SET done = done + ? WHERE id = ?", (skipped, job["id"]))

    def _rescore(self, job: dict, params: dict, analyzer) -> None:
        if getattr(analyzer, "stance", None) is None:
            raise JobError(STANCE_DISABLED)
        dispute_id = params["dispute"]
        disputes = [d for d in self.db.read(store.dispute_objects) if d.id == dispute_id]
        if not disputes:
            raise JobError(f"the dispute {dispute_id!r} no longer exists")
        ids = [r["id"] for r in self.db.conn().all(
            "SELECT id FROM articles WHERE analysis = 'done' AND n_claims > 0 ORDER BY id")]
        with self.db.write() as c:
            c.run("UPDATE jobs SET total = ? WHERE id = ?", (len(ids), job["id"]))
        for aid in ids:
            c = self.db.conn()
            text = c.value("SELECT text FROM articles WHERE id = ?", (aid,))
            claims = store.article_claims(c, aid)
            if text is not None and claims:
                objs = store.claims_as_objects(claims)
                scored = analyzer.score_stance(text, objs, disputes)
                pairs = [(d["db_id"], o.stance.get(dispute_id)) for d, o in zip(claims, scored)]
                with self.db.write() as w:
                    store.apply_rescore(w, aid, dispute_id, pairs)
            with self.db.write() as w:
                w.run("UPDATE jobs SET done = done + 1 WHERE id = ?", (job["id"],))


class JobError(RuntimeError):
    """A job that cannot run, with a message for the jobs page."""


def job_dict(row: dict) -> dict:
    d = dict(row)
    d["params"] = json.loads(d["params"] or "{}")
    d["progress"] = round(d["done"] / d["total"], 3) if d["total"] else (1.0 if d["status"] == "done" else 0.0)
    # running, but its runner stopped renewing the lease: the next runner takes it again
    d["stale"] = d["status"] == "running" and (d.get("lease_until") or "") < now()
    return d


def list_jobs(c, limit: int = 50) -> list[dict]:
    return [job_dict(r) for r in c.all("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,))]
