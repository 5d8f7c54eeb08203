"""``claims stance PAIRS.jsonl -o OUT.jsonl``: stance of single (target, text) pairs.

Each input line is ``{"id", "target", "text"}``; each output line ``{"id", "label", "scores"}``,
or ``{"id", "error": {"type", "message"}}`` for a line that cannot be scored. The text is read
like a claim: the attribution model marks its sources and cues.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from .doc import STANCE_LABELS
from .progress import Progress


def _read(path: str, at: list):
    """(line, object, error) per non-blank line; ``at[0]`` follows how far into the input it is."""
    f = sys.stdin.buffer if path == "-" else open(path, "rb")
    try:
        for n, raw in enumerate(f, 1):
            at[0] += len(raw)
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                yield n, None, f"line {n}: invalid JSON ({e})"
                continue
            if not isinstance(obj, dict):
                yield n, None, f"line {n}: expected a JSON object"
                continue
            missing = [k for k in ("target", "text") if not isinstance(obj.get(k), str) or not obj.get(k).strip()]
            if missing:
                yield n, obj, f"line {n}: {', '.join(missing)} must be non-empty strings"
                continue
            yield n, obj, None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def run_stance(args) -> int:
    from .cli import EXIT_OK, EXIT_SOME_FAILED, UserError
    from .analyzer import _recorded_base_model
    from .encoder import EncoderError, build_trunk, encoder_config, load_tokenizer, resolve_encoder
    from .extract import DEFAULT_MODEL_DIR, AttributionModel, ModelError
    from .stance import StanceModel, text_roles

    if args.input != "-" and not Path(args.input).exists():
        raise UserError(f"{args.input}: no such file")
    try:
        base = resolve_encoder(_recorded_base_model(Path(args.model or DEFAULT_MODEL_DIR)))
        attribution = AttributionModel.load(args.model, encoder_config(base))
        tok = load_tokenizer(base)
        trunk = build_trunk(attribution.shared_layers, base)
        model = StanceModel.load(args.stance_model, trunk.cfg, tok, trunk)
    except (ModelError, EncoderError) as e:
        raise UserError(str(e)) from None
    max_len = int(model.config.get("max_text_len", 160))
    failed = written = 0
    t0 = time.time()
    at = [0]
    done = SimpleNamespace(written=0, failed=0)     # what the progress display reads
    to_stdout = args.output == "-"
    if not to_stdout and not Path(args.output).parent.exists():
        raise UserError(f"{Path(args.output).parent}: no such directory")
    progress = Progress(quiet=args.quiet, total=None if args.input == "-" else Path(args.input).stat().st_size,
                        bar=not (to_stdout and sys.stdout.isatty()), label="claims stance", unit="pairs")
    with (contextlib.nullcontext(sys.stdout) if to_stdout else open(args.output, "w", encoding="utf-8")) as out:
        batch: list[tuple[int, dict, str | None]] = []  # input order, errors included

        def flush():
            nonlocal written, failed
            good = [(n, o) for n, o, err in batch if err is None]
            probs = iter(())
            if good:
                texts = [o["text"] for _, o in good]
                roles = text_roles(texts, attribution, trunk, tok, max_len)
                probs = iter(model.score_texts([o["target"] for _, o in good], texts, roles, trunk))
            for n, o, err in batch:
                rid = o.get("id", f"line:{n}") if isinstance(o, dict) else f"line:{n}"
                if err is not None:
                    out.write(json.dumps({"id": rid, "error": {"type": "bad_input", "message": err}}) + "\n")
                    failed += 1
                    continue
                p = next(probs)
                scores = {l: round(float(p[i]), 4) for i, l in enumerate(STANCE_LABELS)}
                out.write(json.dumps({"id": rid, "label": max(scores, key=scores.get), "scores": scores},
                                     ensure_ascii=False) + "\n")
                written += 1
            out.flush()
            batch.clear()
            done.written, done.failed = written + failed, failed
            progress.update(done, at[0], time.time() - t0)

        finished = False
        try:
            with torch.inference_mode():
                for n, obj, err in _read(args.input, at):
                    batch.append((n, obj, err))
                    if len(batch) >= args.batch_size:
                        flush()
                if batch:
                    flush()
            finished = True
        finally:
            progress.close(finished)
    if not args.quiet:
        print(f"{written} pairs scored, {failed} failed, {time.time() - t0:.1f}s", file=sys.stderr)
    return EXIT_OK if failed == 0 else EXIT_SOME_FAILED
