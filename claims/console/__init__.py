"""The fact-checkers' review console: ``claims serve`` (see README, "Review console").

Modules: ``app`` (route table and views), ``db`` (SQLite/PostgreSQL and migrations), ``auth``
(accounts, sessions, CSRF, rate limit), ``store`` (articles, claims, stances, disputes, audit),
``jobs`` (background analysis), ``importer`` (articles in), ``export`` (data out),
``speakers`` (speakers × disputes), ``highlight`` (the article text cut for colouring),
``cli`` (serve, users, import).
"""

from .app import create_app

__all__ = ["create_app"]
