"""``claims serve``, ``claims users``, ``claims import``: the console's commands.

    claims users add alice --role admin          # asks for the password
    claims serve --db console.db                 # http://127.0.0.1:8000
    claims import articles.jsonl --db console.db # queued for the server's background analysis
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from ..errors import UserError

DEFAULT_DB = os.environ.get("CLAIMS_CONSOLE_DB", "console.db")


def _db(args):
    from .db import Database
    try:
        db = Database(args.db)
        db.migrate()
    except Exception as e:  # noqa: BLE001 - a bad path or URL is the user's to fix
        raise UserError(f"cannot open the database {args.db}: {e}") from None
    return db


def cmd_serve(args) -> int:
    import uvicorn
    from .app import create_app
    from .jobs import default_analyzer_factory

    db = _db(args)
    disputes = _disputes_file(args.disputes) if args.disputes else None
    if not db.conn().value("SELECT COUNT(*) AS n FROM users"):
        print("claims: no users yet; add an admin first:  claims users add NAME --role admin"
              + (f" --db {args.db}" if args.db != DEFAULT_DB else ""), file=sys.stderr)
    if args.model:
        os.environ["CLAIMS_ATTRIBUTION_MODEL"] = args.model
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)

    def factory():
        from ..analyzer import Analyzer
        return Analyzer(model=args.model, stance_model=False if args.no_stance else args.stance_model)

    app = create_app(db, analyzer_factory=factory if (args.model or args.stance_model or args.no_stance)
                     else default_analyzer_factory, org=args.org, public_url=args.public_url or "",
                     disputes=disputes)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"claims: serving on {args.host}: put it behind HTTPS (a reverse proxy) on a shared network",
              file=sys.stderr)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=args.proxy_headers,
                    forwarded_allow_ips="127.0.0.1" if args.proxy_headers else None)
    except OSError as e:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {e}") from None
    return 0


def _disputes_file(path: str) -> list:
    from ..disputes import DisputeError, load
    try:
        return load(path)
    except DisputeError as e:
        raise UserError(str(e)) from None


def cmd_disputes(args) -> int:
    from . import store
    db = _db(args)
    if args.action == "import":
        report = db.apply(store.import_disputes, _disputes_file(args.file), args.user)
        print(f"disputes: {len(report['added'])} added, {len(report['updated'])} updated, "
              f"{len(report['unchanged'])} unchanged"
              + ("; stored stances were not rescored (rescore them on the Disputes page)" if report["updated"] else ""))
    else:
        for d in db.read(store.list_disputes):
            print(f"{d['id']}\t{d['title']}\t{d['proposition']}")
    return 0


def _read_password(args, confirm: bool = True) -> str:
    if args.password_stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise UserError("no terminal to ask for the password; pipe it in with --password-stdin")
        pw = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Again: ") != pw:
            raise UserError("the passwords differ")
    return pw


def cmd_users(args) -> int:
    from . import auth
    db = _db(args)
    try:
        if args.action == "add":
            pw = _read_password(args)
            u = db.apply(auth.add_user, args.name, args.role, pw)
            print(f"added {u.name} ({u.role})")
        elif args.action == "list":
            for u in db.read(auth.list_users):
                print(f"{u['name']}\t{u['role']}\t{u['created_at'][:10]}")
        elif args.action == "remove":
            db.apply(auth.remove_user, args.name)
            print(f"removed {args.name}")
        elif args.action == "passwd":
            pw = _read_password(args)
            db.apply(auth.set_password, args.name, pw)
            print(f"password changed for {args.name}; their sessions were ended")
    except auth.AuthError as e:
        raise UserError(str(e)) from None
    return 0


def cmd_import(args) -> int:
    from . import importer
    path = Path(args.file)
    if not path.exists():
        raise UserError(f"{args.file}: no such file")
    texts = None
    try:
        if args.texts:
            tpath = Path(args.texts)
            if not tpath.exists():
                raise UserError(f"{args.texts}: no such file")
            texts = importer.texts_by_id(tpath.read_bytes(), tpath.name)
        records, errors = importer.parse_upload(path.read_bytes(), path.name, texts)
    except ValueError as e:
        raise UserError(str(e)) from None
    for e in errors:
        print(f"claims: skipped {e}", file=sys.stderr)
    if not records:
        raise UserError(f"{args.file}: nothing to import")
    db = _db(args)
    report = db.apply(importer.store_records, records, args.user)
    print(f"imported {len(report.articles)} article(s)"
          + (f", {len(report.analysed)} with their results" if report.analysed else "")
          + (f"; analysis job #{report.job_id} queued" if report.job_id else ""))
    if report.job_id and args.analyze:
        from .jobs import JobRunner
        runner = JobRunner(db)
        while runner.run_next():
            row = db.conn().one("SELECT done, total, status FROM jobs WHERE id = ?", (report.job_id,))
            print(f"job #{report.job_id}: {row['status']} {row['done']}/{row['total']}", file=sys.stderr)
        row = db.conn().one("SELECT status, error FROM jobs WHERE id = ?", (report.job_id,))
        if row["status"] == "failed":
            raise UserError(f"analysis failed: {row['error']}")
    elif report.job_id:
        print("the running console analyses them in the background (or add --analyze to do it now)")
    return 0 if not errors else 1


def add_console_commands(sub) -> None:
    """Register serve / users / import on the main ``claims`` parser."""
    def db_arg(p):
        p.add_argument("--db", default=DEFAULT_DB,
                       help=f"SQLite file or postgresql:// URL (default: {DEFAULT_DB}, or $CLAIMS_CONSOLE_DB)")

    p = sub.add_parser("serve", help="the review console (web app)")
    db_arg(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--org", default="Fact-checking desk", help="organisation named as author of ClaimReview exports")
    p.add_argument("--public-url", metavar="URL", help="the console's public address, for links in ClaimReview "
                   "exports (e.g. https://review.example.org); without it exports carry no link to the console")
    p.add_argument("--model", metavar="DIR", help="attribution model directory (default: shipped)")
    p.add_argument("--stance-model", metavar="DIR", help="stance model directory (default: shipped, if any)")
    p.add_argument("--no-stance", action="store_true", help="extract claims only")
    p.add_argument("--disputes", metavar="FILE", help="disputes TOML for a console that has none yet "
                   "(a new database starts with no disputes; later: claims disputes import)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for the model (default: torch's choice)")
    p.add_argument("--proxy-headers", action="store_true",
                   help="trust X-Forwarded-* from a reverse proxy on 127.0.0.1 (for HTTPS and client addresses)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("users", help="console accounts: add, list, remove, passwd")
    us = p.add_subparsers(dest="action", required=True)
    a = us.add_parser("add", help="add a user")
    a.add_argument("name")
    a.add_argument("--role", choices=["admin", "reviewer"], default="reviewer")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    us.add_parser("list", help="list users")
    r = us.add_parser("remove", help="remove a user")
    r.add_argument("name")
    pw = us.add_parser("passwd", help="set a user's password (ends their sessions)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for q in (a, r, pw, us.choices["list"]):
        db_arg(q)
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("disputes", help="the console's disputes: import a TOML file, list them")
    ds = p.add_subparsers(dest="action", required=True)
    i = ds.add_parser("import", help="add the file's disputes and update changed ones (others stay)")
    i.add_argument("file", metavar="FILE.toml")
    i.add_argument("--user", default="cli", help="name recorded in the audit trail")
    lst = ds.add_parser("list", help="list the disputes")
    for q in (i, lst):
        db_arg(q)
    p.set_defaults(func=cmd_disputes)

    p = sub.add_parser("import", help="add articles to the console: JSONL or JSON ({'id','text',...} records, or "
                       "results of claims analyze / claims batch), or .txt")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--texts", metavar="INPUT", help="the input file of a claims batch run: texts for its results "
                   "(by id) where the output has none")
    db_arg(p)
    p.add_argument("--user", default="import", help="name recorded in the audit trail")
    p.add_argument("--analyze", action="store_true", help="analyse here and now instead of in the running console")
    p.set_defaults(func=cmd_import)
