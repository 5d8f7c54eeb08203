"""The attribution model card says which layers were trained and the command that trains them."""

from training.attribution import Config, model_card


def _config(shared: int) -> dict:
    keys = [f"{kind}_{r}_f" for kind in ("exact", "overlap") for r in ("source", "cue", "content")] + ["claim_f"]
    return {"version": "2026-11-30", "base_model": "all-MiniLM-L6-v2", "shared_layers": shared,
            "max_len": 256, "stride": 224, "dev_tagger": {"epoch": 5},
            "dev_metrics": {**{k: 70.0 for k in keys}, "claim_p": 80.0, "claim_r": 70.0},
            "dev_intervals": {k: [68.0, 72.0] for k in keys},
            "training": {"epochs": 5, "seed": 13, "batch_size": 16, "max_len": 256, "lr": 1e-4, "head_lr": 1e-3}}


def test_the_card_of_a_tagger_that_trains_every_layer_says_so_and_gives_the_flag():
    card = model_card(_config(0), 840, 84)
    assert "Only the embeddings stay at the pretrained weights" in card and "all 6 layers" in card
    assert "--shared-layers 0 --epochs 5" in card


def test_the_card_of_the_default_split_names_the_frozen_layers():
    card = model_card(_config(Config.shared_layers), 840, 84)
    assert f"the first {Config.shared_layers} layers stay" in card and "--shared-layers" not in card
