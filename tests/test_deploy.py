"""The deploy recipes: the systemd unit passes `systemd-analyze verify` (where the tool exists)
and asks for what the service does (notify, watchdog, a state directory, hardening)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "monitor.service"


def settings() -> dict[str, str]:
    found = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found[key] = value
    return found


def test_the_unit_is_a_hardened_notify_service_with_a_watchdog() -> None:
    unit = settings()
    assert unit["Type"] == "notify" and unit["WatchdogSec"] and unit["StateDirectory"]
    assert unit["ExecStart"].endswith(" serve")
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "DynamicUser"):
        assert unit[key] == "yes", key
    assert unit["ProtectSystem"] == "strict"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # The installed path of the unit does not exist here: point it at this environment's.
    monitor = Path(sys.executable).parent / "monitor"
    text = UNIT.read_text(encoding="utf-8").replace(
        "/opt/kinhtedothi-monitor/venv/bin/monitor", str(monitor))
    unit = tmp_path / "kinhtedothi-monitor.service"
    unit.write_text(text, encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                            capture_output=True, text=True, timeout=120)
    # It exits 0 on some errors (an unknown key is only "ignored"): any word on the unit fails.
    said = result.stdout + result.stderr
    assert result.returncode == 0 and unit.name not in said, said
