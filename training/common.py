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


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def optimizer(net, cfg, total_steps: int):
    """AdamW with the top layers at ``cfg.lr`` and everything else (heads, embeddings of features) at
    ``cfg.head_lr``; linear warm-up over ``cfg.warmup`` of the steps, then linear decay to zero."""
    import torch
    body = [p for n, p in net.named_parameters() if n.startswith("top.")]
    head = [p for n, p in net.named_parameters() if not n.startswith("top.")]
    opt = torch.optim.AdamW([{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}],
                            weight_decay=cfg.weight_decay)
    warm = max(1, int(cfg.warmup * total_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total_steps - s) / max(1, total_steps - warm))))
    return opt, sched


def resume_config(config_cls, cfg, ckpt_path: Path):
    """The config a checkpoint was trained with, its epochs raised to ``cfg.epochs`` where that was
    given (differs from the default) and is more."""
    import sys

    import torch
    if not ckpt_path.exists():
        sys.exit(f"error: --resume: no checkpoint at {ckpt_path}")
    saved = torch.load(ckpt_path, weights_only=False)["config"]
    asked = cfg.epochs if cfg.epochs != config_cls().epochs else saved["epochs"]
    this_run = {"stop_after": cfg.stop_after} if hasattr(cfg, "stop_after") else {}   # not the checkpoint's
    return config_cls(**{**saved, "epochs": max(asked, saved["epochs"]), **this_run})


def stops_after(cfg, epoch: int, start_epoch: int) -> bool:
    """Whether this run ends after ``epoch`` (1-based) because of ``cfg.stop_after`` (then says so)."""
    stop = bool(cfg.stop_after) and epoch - start_epoch >= cfg.stop_after and epoch < cfg.epochs
    if stop:
        print(f"stopped after epoch {epoch} of {cfg.epochs}; continue with --resume", flush=True)
    return stop


def save_checkpoint(path: Path, net, opt, sched, epoch: int, best: float, history: list, cfg,
                    extra: dict | None = None) -> None:
    """Model, optimiser, schedule and the random number generators' states, written atomically (a
    run stopped while writing keeps the previous checkpoint)."""
    import random

    import numpy as np
    import torch
    tmp = Path(str(path) + ".tmp")
    torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "epoch": epoch, "best": best, "history": history, "config": asdict(cfg),
                "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                        "torch": torch.get_rng_state()}, "extra": extra or {}}, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path, net, opt, sched) -> tuple[int, float, list]:
    """Restores the model, optimiser, schedule and random number generators; returns (epochs done,
    best score, history)."""
    import random

    import numpy as np
    import torch
    ck = torch.load(path, weights_only=False)
    net.load_state_dict(ck["net"])
    opt.load_state_dict(ck["opt"])
    sched.load_state_dict(ck["sched"])
    if "rng" in ck:
        random.setstate(ck["rng"]["python"])
        np.random.set_state(ck["rng"]["numpy"])
        torch.set_rng_state(ck["rng"]["torch"])
    return ck["epoch"], ck["best"], ck["history"]


def checkpoint_extra(path: Path) -> dict:
    """What a training script stored beside the model in its checkpoint (its own random state, ...)."""
    import torch
    return torch.load(path, weights_only=False).get("extra", {})


def install_model(out: Path, name: str, files: tuple[str, ...]) -> Path:
    """Copy a trained model directory's files into ``claims/models/<name>``."""
    dest = MODELS_DIR / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(Path(out) / f, dest / f)
    print(f"installed into {dest}")
    return dest
