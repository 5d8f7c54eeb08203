"""training.stance on a tiny corpus: it checkpoints every epoch and resumes where it stopped."""

import json

import pytest

from training.stance import main


def _corpus(folder, n: int, seed: int) -> None:
    import random
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    words = ["taxes", "rise", "fall", "wall", "border", "trade", "jobs", "deal"]
    labels = ["favor", "against", "neutral", "unrelated"]
    for split in ("train", "dev"):
        with open(folder / f"{split}.jsonl", "w") as f:
            for i in range(n):
                f.write(json.dumps({"id": f"{split}{i}", "target": " ".join(rng.sample(words, 3)),
                                    "text": "Officials said " + " ".join(rng.sample(words, 5)) + ".",
                                    "label": labels[i % 4]}) + "\n")


@pytest.mark.slow
def test_stance_training_checkpoints_and_resumes(tmp_path):
    import torch
    _corpus(tmp_path / "data" / "stance" / "emergent", 16, 1)
    base = ["--data", str(tmp_path / "data"), "--roles-from", "none", "--batch-texts", "4", "--seed", "3"]
    assert main([*base, "--out", str(tmp_path / "straight"), "--epochs", "2"]) == 0
    assert main([*base, "--out", str(tmp_path / "stopped"), "--epochs", "2", "--stop-after", "1"]) == 0
    ck = tmp_path / "stopped" / "checkpoint.pt"
    assert torch.load(ck, weights_only=False)["epoch"] == 1
    assert main(["--out", str(tmp_path / "stopped"), "--resume"]) == 0
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(ck, weights_only=False)
    assert a["epoch"] == b["epoch"] == 2 and a["best"] == b["best"]
    assert all(torch.equal(a["net"][k], b["net"][k]) for k in a["net"])
    with pytest.raises(SystemExit, match="no checkpoint"):
        main(["--out", str(tmp_path / "nothing"), "--resume"])
