"""Metrics and scoring shared by ``training`` (model selection, model cards) and ``eval`` (the
reports): below both, so that training never imports eval. Plain data in, figures out; the
runtime package ``claims`` never imports it."""
