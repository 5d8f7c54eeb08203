import numpy as np
import pytest

from scoring import emissions


def test_cache_round_trip_partial_resume_and_clear_errors(tmp_path):
    arts = [{"id": "a"}, {"id": "b"}]
    lps = [np.random.default_rng(0).normal(size=(3, 7)).astype(np.float32),
           np.zeros((0, 7), dtype=np.float32)]
    emissions.save(emissions.cache_path("dev", tmp_path), arts, lps, {"model": "m"})
    back = emissions.load("dev", arts, tmp_path)
    assert np.allclose(back[0], lps[0], atol=1e-2) and back[1].shape == (0, 7)
    with pytest.raises(FileNotFoundError, match="lacks 1 articles"):
        emissions.load("dev", arts + [{"id": "c"}], tmp_path)
    with pytest.raises(FileNotFoundError, match="eval.emissions --split train"):
        emissions.load("train", arts, tmp_path)
    part = emissions.partial_path("dev", tmp_path)
    emissions.save(part, arts[:1], lps[:1], {})
    assert set(emissions.load_partial(part)) == {"a"}
    assert emissions.load_partial(tmp_path / "none.npz") == {}
