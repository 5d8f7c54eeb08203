"""The encoder loaded with `transformers`: same states as the hand-written BERT it replaced, the
shipped tops still load, the seed analysis is unchanged, and another BERT-type encoder given by
path trains and serves; what is not supported says so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from claims.nlp import encoder as E

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "claims" / "models"
SEED = ROOT / "seeds" / "000_e4a0bdb19bff5182.txt"


def _ids() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(1000, 30000, (3, 48), generator=g)
    ids[:, 0] = 101
    ids[1, 30:] = 0      # padded rows
    ids[2, 9:] = 0
    return ids


def _tops(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file
    return {k.removeprefix("top."): v.float() for k, v in load_file(str(path)).items() if k.startswith("top.")}


@pytest.mark.slow
def test_transformers_encoder_matches_the_hand_written_one():
    from eval import encoder_reference as R
    ids = _ids()
    keep = ids != 0
    new_trunk, old_trunk = E.build_trunk(2), R.build_trunk(2)
    assert isinstance(new_trunk.model, __import__("transformers").PreTrainedModel)
    with torch.inference_mode():
        a, b = new_trunk(ids), old_trunk(ids)
        assert (a - b)[keep].abs().max().item() < 1e-5
        # the base top layers, and each shipped top: the stance stages' stored under the old
        # parameter names, the tagger's under the `transformers` ones
        new_top, old_top = E.build_top(2).eval(), R.build_top(2).eval()
        assert (new_top(a, ids) - old_top(b, ids))[keep].abs().max().item() < 1e-5
        for f in (MODELS / "attribution" / "tagger.safetensors", MODELS / "stance" / "stance.safetensors",
                  MODELS / "stance" / "polarity.safetensors"):
            state = _tops(f)
            old_names = any(".query." in k and ".attention." not in k for k in state)
            assert old_names == (f.parent.name == "stance"), f
            n = 1 + max(int(k.split(".")[1]) for k in state)
            new, old = E.Top(new_trunk.cfg, n), R.Top(old_trunk.cfg, n)
            new.load_state_dict(state)          # strict: every parameter found, under either naming
            old.load_state_dict(R.reference_names(state))
            new.eval(), old.eval()
            diff = (new(a, ids) - old(b, ids))[keep].abs().max().item()
            assert diff < 1e-5, (f.name, diff)


@pytest.mark.slow
def test_seed_analysis_is_the_same_with_the_hand_written_encoder():
    """The analysis of the seed article with the `transformers` encoder against the same analyzer
    whose trunk and three tops are swapped for the hand-written ones, loaded straight from the files."""
    from claims import Analyzer, disputes
    from eval import encoder_reference as R

    text = SEED.read_text(encoding="utf-8")
    ds = disputes.load(ROOT / "seeds" / "disputes.toml")
    an = Analyzer(disputes=ds)
    new = an.analyze(text, id="seed").to_dict()
    assert new["claims"], "the seed article has claims"

    an.trunk, an.stance_trunk = R.build_trunk(an.model.shared_layers), R.build_trunk(an.stance.shared_layers)
    for net, f in ((an.model.net, MODELS / "attribution" / "tagger.safetensors"),
                   (an.stance.net, MODELS / "stance" / "stance.safetensors"),
                   (an.stance.polarity.net, MODELS / "stance" / "polarity.safetensors")):
        state = _tops(f)
        top = R.Top(an.trunk.cfg, 1 + max(int(k.split(".")[1]) for k in state))
        top.load_state_dict(R.reference_names(state))
        net.top = top.eval()
    an.stance.trunk = an.stance_trunk
    if an.stance.polarity is not None:
        an.stance.polarity.trunk = an.stance_trunk
    an.stance._prop_cache.clear()
    old = an.analyze(text, id="seed").to_dict()
    old["model"] = new["model"]
    assert json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)


def test_offline_and_local_only():
    assert os.environ.get("HF_HUB_OFFLINE") and os.environ.get("TRANSFORMERS_OFFLINE")
    # a hub name is not a directory: it is refused, never looked up
    with pytest.raises(E.EncoderError, match="local director"):
        E.resolve_encoder("bert-base-uncased")
    assert E.resolve_encoder(E.BASE_MODEL_NAME) == E.base_model_path()


def _tiny_encoder(dest: Path, model_type: str = "bert") -> Path:
    """A small BERT checkpoint directory (random weights) with the base encoder's tokenizer."""
    from transformers import BertConfig, BertModel
    base = E.base_model_path()
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=512)
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(str(dest))
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(base / f, dest / f)
    if model_type != "bert":
        raw = json.loads((dest / "config.json").read_text())
        raw["model_type"] = model_type
        (dest / "config.json").write_text(json.dumps(raw))
    return dest


def test_unsupported_encoders_say_what_is_wrong(tmp_path):
    with pytest.raises(E.EncoderError, match="no config.json"):
        E.build_trunk(1, tmp_path)
    gpt = _tiny_encoder(tmp_path / "gpt", model_type="gpt2")
    with pytest.raises(E.EncoderError, match="'gpt2' is not supported.*BERT-type"):
        E.build_trunk(1, gpt)
    tiny = _tiny_encoder(tmp_path / "tiny")
    with pytest.raises(E.EncoderError, match="has 3 layers"):
        E.build_trunk(3, tiny)
    (tiny / "model.safetensors").unlink()
    with pytest.raises(E.EncoderError, match="no weights"):
        E.load_tokenizer(tiny)


def test_a_model_trained_on_a_missing_encoder_is_refused_clearly(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(MODELS / "attribution", model)
    conf = json.loads((model / "config.json").read_text())
    conf["base_model"] = str(tmp_path / "gone")
    (model / "config.json").write_text(json.dumps(conf))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "claims", "analyze", str(SEED), "--model", str(model), "--no-stance"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode != 0
    assert "gone" in r.stderr and "not a local directory" in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr


def _polnear_article(i: int) -> dict:
    names = ["Smith", "Jones", "Garcia", "Chen"]
    parts, attributions = [], []
    text = ""
    for k in range(6):
        who = names[(i + k) % len(names)]
        quote = f"The plan number {i * 6 + k} will fail"
        sent = f"\u201c{quote},\u201d {who} said on Monday. "
        q0 = len(text) + 1
        s0 = len(text) + sent.index(who)
        c0 = s0 + len(who) + 1
        attributions.append({"id": f"E{k}", "source": [[s0, s0 + len(who)]], "cue": [[c0, c0 + 4]],
                             "content": [[q0, q0 + len(quote)]]})
        text += sent
        parts.append(sent)
    return {"id": f"a{i}", "text": text.strip(), "attributions": attributions}


@pytest.mark.slow
def test_another_bert_encoder_by_path_trains_and_serves(tmp_path):
    """Training with $CLAIMS_BASE_MODEL set to a small BERT directory: the model records that
    encoder, and the analyzer builds the same trunk for it without being told."""
    tiny = _tiny_encoder(tmp_path / "tiny-bert")
    data = tmp_path / "data" / "attribution" / "polnear"
    data.mkdir(parents=True)
    for split, rng in (("train", range(0, 6)), ("dev", range(6, 10))):
        with open(data / f"{split}.jsonl", "w") as f:
            for i in rng:
                f.write(json.dumps(_polnear_article(i)) + "\n")
    out = tmp_path / "model"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLAIMS_BASE_MODEL": str(tiny),
           "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}
    r = subprocess.run([sys.executable, "-m", "training.attribution", "--data", str(tmp_path / "data"),
                        "--out", str(out), "--epochs", "1", "--shared-layers", "1", "--batch-size", "4",
                        "--threads", "1"], capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    conf = json.loads((out / "config.json").read_text())
    assert conf["base_model"] == str(tiny.resolve())
    # the analyzer (without $CLAIMS_BASE_MODEL) finds the encoder from the model's config
    from claims import Analyzer
    an = Analyzer(model=out, stance_model=False, disputes=[])
    assert an.encoder_path == tiny.resolve()
    assert an.trunk.cfg.hidden_size == 32 and len(an.trunk.model.encoder.layer) == 1
    result = an.analyze(_polnear_article(11)["text"], id="x").to_dict()
    assert result["id"] == "x" and isinstance(result["claims"], list)


@pytest.mark.slow
def test_attribution_training_resumes_where_it_stopped(tmp_path):
    """Two epochs in one run and one epoch then ``--resume`` to two give the same tagger: the
    checkpoint carries the optimiser, the schedule and the random states."""
    tiny = _tiny_encoder(tmp_path / "tiny-bert")
    data = tmp_path / "data" / "attribution" / "polnear"
    data.mkdir(parents=True)
    for split, rng in (("train", range(0, 6)), ("dev", range(6, 10))):
        with open(data / f"{split}.jsonl", "w") as f:
            for i in rng:
                f.write(json.dumps(_polnear_article(i)) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLAIMS_BASE_MODEL": str(tiny),
           "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}

    def train(out, *extra):
        r = subprocess.run([sys.executable, "-m", "training.attribution", "--data", str(tmp_path / "data"),
                            "--out", str(out), "--shared-layers", "1", "--batch-size", "4", "--threads", "1",
                            "--lr", "1e-3", *extra], capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
        return r.stdout

    from safetensors.torch import load_file
    train(tmp_path / "straight", "--epochs", "2")
    assert "continue with --resume" in train(tmp_path / "stopped", "--epochs", "2", "--stop-after", "1")
    assert not (tmp_path / "stopped" / "config.json").exists()   # no model until the tagger is done
    assert "resumed after epoch 1" in train(tmp_path / "stopped", "--resume")
    assert (tmp_path / "stopped" / "config.json").exists()
    import torch
    assert torch.load(tmp_path / "stopped" / "checkpoint.pt", weights_only=False)["epoch"] == 2
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["net"]
    b = torch.load(tmp_path / "stopped" / "checkpoint.pt", weights_only=False)["net"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert load_file(str(tmp_path / "stopped" / "tagger.safetensors"))
    r = subprocess.run([sys.executable, "-m", "training.attribution", "--data", str(tmp_path / "data"),
                        "--out", str(tmp_path / "none"), "--resume"], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert r.returncode != 0 and "no checkpoint" in r.stderr


def _without_features(out: Path) -> Path:
    """The shipped attribution model with its case and quotation embeddings zeroed: what it adds to
    the trunk states is then nothing, wherever the trunk ends."""
    from safetensors.torch import load_file, save_file
    shutil.copytree(MODELS / "attribution", out)
    state = {k: v.float() for k, v in load_file(str(out / "tagger.safetensors")).items()}
    state["case.weight"].zero_()
    state["quote.weight"].zero_()
    save_file(state, str(out / "tagger.safetensors"))
    return out


def _resplit_tagger(src: Path, out: Path, shared: int) -> Path:
    """The tagger in ``src`` rewritten to share ``shared`` frozen layers. Sharing fewer, its top
    starts with the pretrained layers it gave up, so (with no case or quotation embeddings) it reads
    any text the same way; sharing more, the lowest layers of its top are dropped."""
    from safetensors.torch import load_file, save_file
    shutil.copytree(src, out)
    conf = json.loads((out / "config.json").read_text())
    shift = int(conf["shared_layers"]) - shared
    conf["shared_layers"] = shared
    (out / "config.json").write_text(json.dumps(conf))
    old = load_file(str(out / "tagger.safetensors"))
    new = {k: v for k, v in old.items() if not k.startswith("top.layers.")}
    for k, v in old.items():
        if k.startswith("top.layers."):
            _, _, i, rest = k.split(".", 3)
            if int(i) + shift >= 0:
                new[f"top.layers.{int(i) + shift}.{rest}"] = v
    _, base = E.load_base_state()
    for k, v in base.items():
        if k.startswith("encoder.layer.") and shared <= int(k.split(".")[2]) < shared + shift:
            new[f"top.layers.{int(k.split('.')[2]) - shared}.{k.split('.', 3)[3]}"] = v.float()
    save_file({k: v.contiguous() for k, v in new.items()}, str(out / "tagger.safetensors"))
    return out


@pytest.mark.slow
def test_a_stance_model_sharing_more_layers_than_the_tagger_reads_the_trunk_carried_on(tmp_path):
    """A tagger that fine-tunes every layer and the shipped stance model (two frozen layers) serve
    together: the stance model reads the tagger's trunk states carried through the two pretrained
    layers, and the analysis is that of the same model sharing them."""
    from claims import Analyzer
    from claims.doc import Dispute
    text = SEED.read_text()
    gold = json.loads(SEED.with_name(SEED.stem + ".gold.json").read_text())
    disputes = [Dispute(d["id"], d["title"], d["proposition"]) for d in gold["disputes"]]
    shallow = _without_features(tmp_path / "shallow")
    shipped = Analyzer(model=shallow, disputes=disputes).analyze(text).to_dict()
    deeper = Analyzer(model=_resplit_tagger(shallow, tmp_path / "deeper", 0), disputes=disputes)
    assert deeper.trunk.n_layers == 0 and deeper.stance_trunk.n_layers == 2
    assert deeper.trunk.embeddings is deeper.stance_trunk.model.embeddings    # one set of weights
    got = deeper.analyze(text).to_dict()
    assert [(c["source"], c["cue"], c["content"]) for c in got["claims"]] == \
        [(c["source"], c["cue"], c["content"]) for c in shipped["claims"]]
    sides = [s["label"] for c in shipped["claims"] for s in c["stance"].values()]
    assert shipped["claims"] and len(sides) == 3 * len(shipped["claims"])
    for c, c2 in zip(got["claims"], shipped["claims"]):
        for d, s in c2["stance"].items():
            assert c["stance"][d]["label"] == s["label"]
            assert all(abs(c["stance"][d]["scores"][k] - p) < 1e-3 for k, p in s["scores"].items())


def test_a_stance_model_sharing_fewer_layers_than_the_tagger_is_refused(tmp_path):
    from claims import Analyzer
    from claims.errors import ModelError
    tagger = _resplit_tagger(MODELS / "attribution", tmp_path / "attribution", 2)   # shares two layers
    stance = tmp_path / "stance"
    shutil.copytree(MODELS / "stance", stance)
    conf = json.loads((stance / "config.json").read_text())
    conf["shared_layers"] = 1
    (stance / "config.json").write_text(json.dumps(conf))
    with pytest.raises(ModelError, match="at least as many"):
        Analyzer(model=tagger, stance_model=stance)


def test_carrying_trunk_states_on_equals_running_the_whole_trunk():
    trunk = E.build_trunk(2)
    ids = _ids()
    with torch.no_grad():
        whole = trunk(ids)
        carried = trunk.carry_on(E.trunk_for(trunk, 1, "a model")(ids), ids, 1)
    assert torch.allclose(whole, carried, atol=1e-5)
    assert E.trunk_for(trunk, 2, "a model") is trunk
    with pytest.raises(Exception, match="needs 3 shared layers"):
        E.trunk_for(trunk, 3, "a model")
