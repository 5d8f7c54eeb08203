"""Shared fixtures. Tests marked ``slow`` run the shipped model; ``data`` tests need ../shared/data
and are skipped when it is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED_TEXT = ROOT / "seeds" / "000_e4a0bdb19bff5182.txt"
SEED_GOLD = ROOT / "seeds" / "000_e4a0bdb19bff5182.gold.json"


def pytest_collection_modifyitems(config, items):
    from claims import corpora
    has_data = corpora.polnear_path("dev").exists()
    for item in items:
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
