"""``monitor templates export [--force]``: copy the built-in mail templates into the folder the
monitor searches first (``[digest] templates_dir``), as a start for the operator's own."""

from __future__ import annotations

from typing import TextIO

from monitor.config import Config
from monitor.errors import UsageError
from monitor.jinja import export


def export_command(config: Config, *, force: bool, out: TextIO) -> int:
    target = config.templates_dir
    try:
        done = export(target, overwrite=force)
    except OSError as exc:
        raise UsageError(f"cannot write templates to {target}: {exc.strerror}",
                         hint="check [digest] templates_dir and its permissions") from exc
    for name, written in done:
        out.write(f"{target / name}: " + ("written\n" if written else
                                          "kept (yours; --force overwrites it)\n"))
    out.write("Edit them there: they are used before the built-in ones, for digests and alerts. "
              "Delete a file to go back to the built-in template.\n")
    return 0
