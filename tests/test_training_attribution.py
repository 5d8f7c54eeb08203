"""The attribution model card says which layers were trained and the command that trains them."""

from training.attribution import Config, model_card


def _config(shared: int) -> dict:
    keys = [f"{kind}_{r}_f" for kind in ("exact", "overlap") for r in ("source", "cue", "content")] + ["claim_f"]
    return {"version": "2026-11-30", "base_model": "all-MiniLM-L6-v2", "shared_layers": shared,
            "max_len": 256, "stride": 224, "dev_tagger": {"epoch": 5},
            "dev_metrics": {**{k: 70.0 for k in keys}, "claim_p": 80.0, "claim_r": 70.0},
            "dev_intervals": {k: [68.0, 72.0] for k in keys},
            "training": {"epochs": 5, "seed": 13, "batch_size": 16, "max_len": 256, "lr": 1e-4, "head_lr": 1e-3}}


def test_the_card_of_a_tagger_that_trains_every_layer_says_so():
    card = model_card(_config(0), 840, 84)
    assert "Only the embeddings stay at the pretrained weights" in card and "all 6 layers" in card


def test_the_card_names_the_frozen_layers_and_gives_the_flag_when_it_is_not_the_default():
    card = model_card(_config(2), 840, 84)
    assert "the first 2 layers stay" in card and "the top 4 layers" in card
    for shared in (0, 2):
        card = model_card(_config(shared), 840, 84)
        assert (f"--shared-layers {shared} --epochs 5" in card) == (shared != Config.shared_layers)
