"""Evaluation reports: ``python -m eval report`` (see ``eval.report.cli``).

One module per job: ``collect`` computes the figures from gold data and predictions, ``gallery``
picks the errors to show, ``compare`` sets figures beside an older report's, ``svg`` draws the
plots, ``render_html`` / ``render_md`` / ``summary`` present them, and ``run`` is the I/O edge
that loads data, runs the models and writes the files.
"""
