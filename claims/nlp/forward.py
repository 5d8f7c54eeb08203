"""The tagger's forward step, the one place where the order of the extraction pass is written:
subword windows -> shared trunk -> tagger top -> word log-probabilities. The Analyzer runs it over
articles (handing each batch's trunk states to the stance model too), the stance stage over single
texts to mark their sources and cues, and training over the dev articles."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
from torch.nn import functional as F

from .segment import Prepared, collate, gather_words, windows
from .tagger import LABELS

DEFAULT_MAX_LEN, DEFAULT_STRIDE = 256, 128


def window_shape(config: dict) -> tuple[int, int]:
    """(window length, stride) in subwords that a tagger was trained with, from its config."""
    return int(config.get("max_len", DEFAULT_MAX_LEN)), int(config.get("stride", DEFAULT_STRIDE))


def word_logprobs(prepared: list[Prepared], trunk, net, tokenizer, max_len: int = DEFAULT_MAX_LEN,
                  stride: int = DEFAULT_STRIDE, batch_size: int = 16,
                  on_batch: Optional[Callable] = None) -> list[np.ndarray]:
    """Log-probabilities of the BIO labels per word, (n_words, n_labels) for each prepared text.
    Windows of all texts share batches; ``on_batch(windows, trunk_states, ids)`` sees each batch's
    trunk states (the stance model reads them instead of running the trunk again)."""
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    wins = [w for k, p in enumerate(prepared) for w in windows(p.sub, k, cls_id, sep_id, max_len, stride)]
    fill = np.log(np.full(len(LABELS), 1e-6, dtype=np.float32))
    fill[0] = 0.0     # a word no window scored reads as outside every span
    n_words = [len(p.seg) for p in prepared]
    into = best = None
    for b in range(0, len(wins), batch_size):
        batch = wins[b:b + batch_size]
        arr = {k: torch.from_numpy(v) for k, v in collate(batch, prepared).items()}
        h = trunk(arr["ids"])  # (B, L, H)
        logits = net(h, arr["ids"], arr["case"], arr["quote"])
        into, best = gather_words(batch, F.log_softmax(logits.float(), -1).numpy(), n_words, fill, into, best)
        if on_batch is not None:
            on_batch(batch, h, arr["ids"])
    if into is None:
        into = [np.zeros((0, len(LABELS)), dtype=np.float32) for _ in prepared]
    return into
