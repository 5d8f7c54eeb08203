"""Shared fixtures. Tests marked ``slow`` run the shipped model; ``system`` tests run whole programs
(the command line in a subprocess, worker processes, Ray, a browser) and every ``slow`` test is one
too, so ``pytest -m "not system"`` is the fast inner loop; ``data`` tests need ../shared/data and are
skipped when it is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED_TEXT = ROOT / "seeds" / "000_e4a0bdb19bff5182.txt"
SEED_GOLD = ROOT / "seeds" / "000_e4a0bdb19bff5182.gold.json"


def pytest_collection_modifyitems(config, items):
    import corpora
    has_data = corpora.polnear_path("dev").exists()
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(pytest.mark.system)
        if "data" in item.keywords and not has_data:
            item.add_marker(pytest.mark.skip(reason="../shared/data (or $CLAIMS_DATA) not found"))


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED_TEXT.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_gold() -> dict:
    return json.loads(SEED_GOLD.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def analyzer():
    from claims.analyzer import Analyzer
    return Analyzer()


@pytest.fixture(scope="session")
def schema() -> dict:
    return json.loads((ROOT / "claims" / "schema" / "result.schema.json").read_text())


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A PostgreSQL server for the console tests: $CLAIMS_TEST_POSTGRES (a URL whose user may
    create databases) or a throwaway cluster from Debian's postgresql package; skipped if neither."""
    import os
    from console_support import TempPostgres, postgres_bin
    url = os.environ.get("CLAIMS_TEST_POSTGRES")
    if url:
        class External:
            n = 0

            def new_database(self):
                import psycopg
                External.n += 1
                name = f"console_test_{os.getpid()}_{External.n}"
                with psycopg.connect(url, autocommit=True) as c:
                    c.execute(f"DROP DATABASE IF EXISTS {name}")
                    c.execute(f"CREATE DATABASE {name}")
                return url.rsplit("/", 1)[0] + "/" + name
        yield External()
        return
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server here (apt-get install postgresql, or set CLAIMS_TEST_POSTGRES)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'claims[postgres]')")
    import shutil
    import tempfile
    # not under pytest's own temp folder: that one is private to root, and the server runs as postgres
    root = Path(tempfile.mkdtemp(prefix="claims-pg-"))
    try:
        server = TempPostgres(root, bindir)
    except Exception as e:  # noqa: BLE001 - e.g. no postgres user, or a sandbox that forbids it
        shutil.rmtree(root, ignore_errors=True)
        detail = getattr(e, "stderr", b"") or b""
        pytest.skip(f"could not start a PostgreSQL server: {e} {detail.decode(errors='replace')[-300:]}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
