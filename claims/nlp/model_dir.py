"""What the model directories share: a ``config.json`` naming the trunk the model was trained on
and its version, fp16 weights read back as float32, and one message when a directory is missing."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelError


class ModelDir:
    """The properties every model reads from its ``config``."""

    config: dict

    @property
    def shared_layers(self) -> int:
        return int(self.config["shared_layers"])

    @property
    def version(self) -> str:
        return str(self.config.get("version", "unversioned"))

    @property
    def temperature(self) -> float:
        """The softmax temperature fitted on dev (1 where none was)."""
        return float(self.config.get("temperature", 1.0))


def read_config(path: Path, kind: str, training: str, file: str = "config.json") -> dict:
    """The model's config; ``ModelError`` saying how to train one if it is not there."""
    if not (path / file).exists():
        raise ModelError(f"no {kind} model at {path} ({file} missing); "
                         f"train one with `python -m training.{training} --install`")
    return json.loads((path / file).read_text())


def load_weights(net, file: Path):
    """Load a safetensors file into ``net`` (as float32) and put it in eval mode."""
    from safetensors.torch import load_file
    net.load_state_dict({k: v.float() for k, v in load_file(str(file)).items()})
    net.eval()
    return net
