"""Pieces both training scripts share: flags from the config dataclass, installing a model."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import asdict, fields
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[1] / "claims" / "models"


def config_parser(config_cls, description: str) -> argparse.ArgumentParser:
    """One ``--flag`` per field of a config dataclass; list fields may be given several times."""
    ap = argparse.ArgumentParser(description=description)
    defaults = config_cls()
    for f in fields(config_cls):
        val = getattr(defaults, f.name)
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(val, list):
            ap.add_argument(flag, action="append", default=[])
        else:
            ap.add_argument(flag, type=type(val), default=val)
    return ap


def config_from_args(config_cls, args):
    return config_cls(**{f.name: getattr(args, f.name) for f in fields(config_cls)})


def changed_flags(config_cls, values: dict, skip: tuple[str, ...] = ("out", "data")) -> list[str]:
    """``--flag value`` for each training argument that differs from the config's default (lists left out)."""
    defaults = asdict(config_cls())
    return [f"--{k.replace('_', '-')} {v}" for k, v in values.items()
            if k not in skip and v != defaults.get(k) and not isinstance(v, list)]


def install_model(out: Path, name: str, files: tuple[str, ...]) -> Path:
    """Copy a trained model directory's files into ``claims/models/<name>``."""
    dest = MODELS_DIR / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(Path(out) / f, dest / f)
    print(f"installed into {dest}")
    return dest
