"""Background analysis: one worker thread runs queued jobs with one Analyzer, loaded on first use.

Jobs live in the ``jobs`` table, so progress is visible to every page and a job interrupted by a
restart is picked up again. Two kinds:

* ``analyze``: extract claims (and stances, if a stance model is installed) for new articles,
  in small batches through ``Analyzer.analyze_many``; each article's result is stored as soon as
  it is ready, and one failing article is recorded without stopping the rest;
* ``rescore``: the stance of every stored claim toward one (new or edited) dispute, through
  ``Analyzer.score_stance`` on the claims as they are now (corrections included); reviewers'
  labels are kept.

The analyzer comes from a factory given to the app (tests inject a stand-in there).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Callable, Optional

from ..doc import ArticleResult
from . import store
from .db import Database, now

log = logging.getLogger("claims.console")

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
        # a job that was running when the server stopped runs again
        with self.db.write() as c:
            c.run("UPDATE jobs SET status = 'queued' WHERE status = 'running'")
            c.run("UPDATE articles SET analysis = 'pending' WHERE analysis = 'running'")
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
            job = c.one("SELECT * FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1" + lock)
            if job is None:
                return False
            c.run("UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?", (now(), job["id"]))
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
                c.run("UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
                      (message, now(), job["id"]))
                if job["kind"] == "analyze":
                    ids = params.get("articles", [])
                    for aid in ids:
                        c.run("UPDATE articles SET analysis = 'failed', error = ? WHERE id = ? "
                              "AND analysis IN ('pending', 'running')", (message, aid))
            return True
        with self.db.write() as c:
            c.run("UPDATE jobs SET status = 'done', finished_at = ? WHERE id = ?", (now(), job["id"]))
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
    return d


def list_jobs(c, limit: int = 50) -> list[dict]:
    return [job_dict(r) for r in c.all("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,))]
