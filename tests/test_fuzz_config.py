"""Fuzzing: any config file mutated from the shipped one gets exit 0 or 2 from `monitor check`,
never an exception, and a refusal is one line."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli import main

SHIPPED = (Path(__file__).resolve().parent.parent / "config.toml").read_text(encoding="utf-8")
LINES = SHIPPED.splitlines()

values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: "nan" if f != f else ("inf" if f == float("inf") else
                                        "-inf" if f == float("-inf") else repr(f))),
    st.text(max_size=20).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"')
                             .replace("\n", "\\n") + '"'),
    st.sampled_from(['"²:00"', '["24:00"]', '["07:00", "x"]', '"http://[::1/x"', "[]", "{}",
                     '"\\u0000"', "true", "07:00:00", "2025-12-01", '"2025-13-01"', "[[[1]]]",
                     "[" * 500 + "]" * 500, '{ a = 1 }', '"div["', '["div["]', "-0", "1e309"]),
)

mutation = st.tuples(
    st.integers(min_value=0, max_value=len(LINES) - 1),
    st.sampled_from(["value", "delete", "duplicate", "insert", "truncate"]),
    values,
)


def mutate(mutations: list[tuple[int, str, str]]) -> str:
    lines = list(LINES)
    for index, kind, value in mutations:
        index %= max(1, len(lines))
        line = lines[index] if lines else ""
        if kind == "value" and "=" in line:
            lines[index] = line.split("=", 1)[0] + "= " + value
        elif kind == "delete" and lines:
            del lines[index]
        elif kind == "duplicate" and lines:
            lines.insert(index, line)
        elif kind == "insert":
            lines.insert(index, value)
        elif kind == "truncate":
            lines = lines[:index]
    return "\n".join(lines) + "\n"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutated_config_gives_exit_0_or_2_never_an_exception(
    mutations: list[tuple[int, str, str]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(mutate(mutations), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        code = main(["--config", str(path), "check"], out=out, err=err)
    assert code in (0, 2), err.getvalue()
    if code == 2:
        assert err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
