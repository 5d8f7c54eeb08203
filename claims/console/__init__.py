"""The fact-checkers' review console: ``claims serve`` (see README, "Review console").

Modules: ``app`` (route table, rendering, security checks), ``views/`` (one module a page or group of
pages), ``http`` (request helpers the views share), ``claim_state`` (a claim's review states),
``db`` (SQLite/PostgreSQL and migrations), ``auth`` (accounts, sessions, CSRF, rate limit), ``store`` (articles, claims, stances, disputes, audit),
``jobs`` (background analysis), ``importer`` (articles in), ``export`` (data out),
``speakers`` (speakers × disputes), ``highlight`` (the article text cut for colouring),
``cli`` (serve, users, import).
"""

__all__ = ["create_app"]


def __getattr__(name):  # the web stack (Starlette, Jinja, argon2) loads only when the app is built
    if name == "create_app":
        from .app import create_app
        return create_app
    raise AttributeError(name)
