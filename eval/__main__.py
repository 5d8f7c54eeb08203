"""``python -m eval COMMAND``: ``report`` (evaluation report), or ``attribution``, ``stance``,
``bench``, ``speakers`` (the same as ``python -m eval.attribution`` and so on)."""

from __future__ import annotations

import sys

USAGE = """usage: python -m eval {report,attribution,stance,disputes,bench,speakers} [options]

  report        evaluation report: report.html, report.md, metrics.json
  attribution   attribution metrics on PolNeAR (python -m eval.attribution)
  stance        stance metrics on the dev splits (python -m eval.stance)
  disputes      stance toward disputes on the disputes set (python -m eval.disputes)
  bench         speed and memory (python -m eval.bench)
  speakers      speaker accuracy, end to end and on gold sources (python -m eval.speakers)
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "report":
        from .report.cli import main as run
    elif cmd == "attribution":
        from .attribution import main as run
    elif cmd == "stance":
        from .stance import main as run
    elif cmd == "disputes":
        from .disputes import main as run
    elif cmd == "bench":
        from .bench import main as run
    elif cmd == "speakers":
        from .speakers import main as run
    else:
        print(f"error: unknown command {cmd!r}\n\n{USAGE}", file=sys.stderr, end="")
        return 2
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
