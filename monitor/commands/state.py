"""``monitor state backup PATH`` and ``monitor state check``: keep a copy, test the file.

The recovery procedure they serve is in the README ("Backup and recovery").
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from monitor.config import Config
from monitor.errors import UsageError
from monitor.store import db


def backup_command(config: Config, target: str, *, out: TextIO) -> int:
    path = Path(target)
    if path.is_dir():
        raise UsageError(f"{target} is a folder; give the backup's file name, e.g. "
                         f"{path / 'monitor-backup.sqlite3'}")
    if path.exists():
        raise UsageError(f"{target} exists; a backup never overwrites a file, choose a new name")
    size = db.backup(db.db_path(config.state_dir), path)
    out.write(f"state backed up to {target} ({size / 1e6:.2f} MB, checked)\n")
    return 0


def check_command(config: Config, *, out: TextIO) -> int:
    path = db.db_path(config.state_dir)
    counts = db.integrity(path)
    held = ", ".join(f"{v} {k}" for k, v in counts.items() if k != "schema")
    out.write(f"state ok: {path} ({path.stat().st_size / 1e6:.2f} MB, schema "
              f"{counts['schema']} of {len(db.MIGRATIONS)}; {held})\n")
    return 0
