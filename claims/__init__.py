"""claims: who claims what in the news, and where each speaker stands on the disputes you track."""

__version__ = "0.1.0"

__all__ = ["Analyzer", "ArticleResult", "Claim", "Dispute", "Span", "Speaker", "Stance", "__version__"]


def __getattr__(name):  # import torch only when the model is needed
    if name == "Analyzer":
        from .analyzer import Analyzer
        return Analyzer
    if name in ("ArticleResult", "Claim", "Dispute", "Span", "Speaker", "Stance"):
        from . import doc
        return getattr(doc, name)
    raise AttributeError(name)
