"""What ``training`` (model selection, model cards, fitted decoders) and ``eval`` (the reports)
share: the metrics, gold attributions as claims and word ranges, the model run and scored on
articles, and the cache of the tagger's word log-probabilities. It sits below both, so that
training never imports eval; the runtime package ``claims`` never imports it."""
