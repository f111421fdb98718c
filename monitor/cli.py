"""The command line: argument parsing, logging set-up and exit codes; nothing else.

Exit codes (a contract scripts depend on): 0 success; 1 the run failed or partly failed, the
state could not be used (locked, read-only, disk full, damaged), or an internal error; 2 bad usage
or config; 130 interrupted. Every error is caught here, once, and printed as one line on stderr:
``MonitorError`` with its hint, a library error mapped to one, a bug without its traceback
(``-vv`` shows it).
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from monitor import __version__
from monitor.config import Config, load
from monitor.errors import MonitorError, UsageError

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _flat(text: str) -> str:
    """Whitespace and line breaks collapsed: an error stays one line on stderr."""
    return " ".join(text.split())


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `monitor {self.prog.split()[-1]} --help`)"
                         if " " in self.prog else f"{message} (see `monitor --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="monitor",
        description="Watch kinhtedothi.vn's party-building section and email a digest of new "
        "coverage of the reorganisation of the apparatus.",
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $MONITOR_CONFIG, else ./config.toml)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output: -v the per-page and per-request lines, -vv debug")
    parser.add_argument("--log-format", choices=("text", "json"),
                        help="log lines as text or one JSON object each (default: [serve] "
                        "log_format for `serve`, else text)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("run", help="one collect then one deliver")
    p.add_argument("--dry-run", action="store_true", help="write no state, send nothing")
    p = sub.add_parser("collect", help="find, fetch and store new and changed articles")
    p.add_argument("--dry-run", action="store_true", help="write no state, print what would be")
    p.add_argument("--baseline", action="store_true",
                   help="record everything listed now as already seen (first run)")
    p = sub.add_parser("deliver", help="send due digests")
    p.add_argument("--dry-run", action="store_true", help="send nothing, record nothing")
    sub.add_parser("serve", help="run the scheduler until SIGTERM/SIGINT")

    p = sub.add_parser("inspect", help="show what extraction keeps and drops, and why")
    p.add_argument("targets", nargs="+", metavar="TARGET", help="URL or local HTML file")
    p.add_argument("--json", action="store_true", help="one JSON object per target and line")
    p.add_argument("--generic", action="store_true", help="force the generic extractor")
    p.add_argument("--listing", action="store_true", help="treat targets as section pages")

    p = sub.add_parser("preview", help="render the next digest without sending or recording")
    p.add_argument("--subscriber", metavar="EMAIL")
    p.add_argument("--output", metavar="FILE", help="write the HTML (or text) here")
    p.add_argument("--text", action="store_true", help="the plain-text part instead of HTML")

    p = sub.add_parser("status", help="last runs, health, pending items, next times, alerts; "
                       "exits 1 while an alert condition holds")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("check", help="validate the config")
    p.add_argument("--network", action="store_true", help="also try SMTP login and each source")
    p.add_argument("--test-alert", action="store_true",
                   help="with --network: send a test alert to [alerts] recipients")
    sub.add_parser("demo", help="the whole pipeline offline against a bundled sample site")
    p = sub.add_parser("resubscribe", help="send digests again to an address that unsubscribed")
    p.add_argument("email", metavar="EMAIL")
    p = sub.add_parser("templates", help="the mail templates: `templates export` copies the "
                       "built-in ones into [digest] templates_dir to edit")
    p.add_argument("action", choices=("export",))
    p.add_argument("--force", action="store_true", help="overwrite templates already there")

    p = sub.add_parser("label", help="record whether a stored article is relevant (for "
                       "`monitor topics test`)")
    p.add_argument("url", metavar="URL", help="the article's address")
    p.add_argument("label", choices=("relevant", "not"))
    p.add_argument("--note", default="", help="why (shown beside an error)")
    p = sub.add_parser("topics", help="test the configured topics on labelled articles")
    tsub = p.add_subparsers(dest="topics_command", metavar="ACTION", parser_class=_Parser,
                            required=True)
    t = tsub.add_parser("test", help="precision, recall, the possible section and every error")
    t.add_argument("files", nargs="*", metavar="FILE.jsonl",
                   help="labelled items, one JSON object a line (the format of "
                   "tests/fixtures/relevance/)")
    t.add_argument("--min-precision", type=float, metavar="P",
                   help="exit 1 when the precision of all items together is below P (0-1)")
    t.add_argument("--min-recall", type=float, metavar="R",
                   help="exit 1 when the recall of all items together is below R (0-1)")
    t.add_argument("--no-state", action="store_true",
                   help="leave out the labels recorded in the state")
    p = sub.add_parser("state", help="back up or check the state database")
    state = p.add_subparsers(dest="state_command", metavar="ACTION", parser_class=_Parser,
                             required=True)
    b = state.add_parser("backup", help="copy the database, consistently, while runs go on")
    b.add_argument("path", metavar="PATH", help="the new file to write (never overwritten)")
    state.add_parser("check", help="a full integrity check of the database")
    return parser


def _setup_logging(args: argparse.Namespace, config: Config | None = None) -> None:
    """Log lines go to stderr; ``serve`` logs its run, digest and alert lines by default."""
    from monitor.logs import setup

    fmt = args.log_format or (config.serve.log_format if config else "text")
    setup(args.verbose, fmt, stream=sys.stderr, events=config is not None)


Handler = Callable[[argparse.Namespace, Callable[[], Config], TextIO], int]


def _inspect(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.inspect import inspect_command

    return inspect_command(args.targets, as_json=args.json, generic=args.generic,
                           listing=args.listing, config=config, out=out)


def _collect(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.collect import collect_command

    return collect_command(config(), dry_run=args.dry_run, baseline=args.baseline, out=out)


def _deliver(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.deliver import deliver_command

    return deliver_command(config(), dry_run=args.dry_run, out=out)


def _run(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.run import run_command

    return run_command(config(), dry_run=args.dry_run, out=out)


def _preview(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.preview import preview_command

    return preview_command(config(), subscriber=args.subscriber, output=args.output,
                           text=args.text, out=out)


def _status(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.status import status_command

    return status_command(config(), as_json=args.json, out=out)


def _check(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.check import check_command

    return check_command(config(), network=args.network, test_alert=args.test_alert, out=out)


def _serve(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.serve import serve_command

    _setup_logging(args, config())
    return serve_command(config(), out=out)


def _demo(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.demo import demo_command

    return demo_command(out=out, config=config)


def _resubscribe(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.resubscribe import resubscribe_command

    return resubscribe_command(config(), args.email, out=out)


def _state(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands import state

    if args.state_command == "backup":
        return state.backup_command(config(), args.path, out=out)
    return state.check_command(config(), out=out)


def _templates(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.templates import export_command

    return export_command(config(), force=args.force, out=out)


def _label(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.label import label_command

    return label_command(config(), args.url, args.label, note=args.note, out=out)


def _topics(args: argparse.Namespace, config: Callable[[], Config], out: TextIO) -> int:
    from monitor.commands.topics import test_command

    return test_command(config(), args.files, min_precision=args.min_precision,
                        min_recall=args.min_recall, use_state=not args.no_state, out=out)


HANDLERS: dict[str, Handler] = {
    "inspect": _inspect, "collect": _collect, "deliver": _deliver, "run": _run,
    "preview": _preview, "status": _status, "check": _check, "serve": _serve, "demo": _demo,
    "resubscribe": _resubscribe, "templates": _templates, "label": _label, "topics": _topics,
    "state": _state,
}


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    cached: list[Config] = []
    try:
        args = build_parser().parse_args(argv)
        if not args.command:
            raise UsageError("a command is required, e.g. `monitor run` (see `monitor --help`)")
        _setup_logging(args)

        def config() -> Config:
            # Loaded on demand: `inspect` of a local file works without a config file.
            if not cached:
                cached.append(load(args.config))
            return cached[0]

        return HANDLERS[args.command](args, config, out)
    except MonitorError as exc:
        print(f"monitor: error: {_flat(str(exc))}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        print("monitor: interrupted", file=err)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILED
    except sqlite3.Error as exc:  # a path that missed open_state: still one line with a hint
        from monitor.store.db import db_path, store_error

        state = cached[0].state_dir if cached else Path("state")
        print(f"monitor: error: {store_error(exc, db_path(state), doing='')}", file=err)
        return EXIT_FAILED
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"monitor: error:{where}: {exc.strerror or exc}", file=err)
        return EXIT_FAILED
    except Exception as exc:  # a bug: one line, the traceback only with -vv
        log.debug("internal error", exc_info=True)
        print(f"monitor: internal error: {type(exc).__name__}: {_flat(str(exc))} (a bug; "
              "`monitor -vv ...` shows the traceback)", file=err)
        return EXIT_FAILED
