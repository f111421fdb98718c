"""`make bench`: every benchmark, one after the other, in one process each.

Timing and soak work lives here, not in the test suite. Each script is also runnable alone.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("bench_extract.py", "eval_generic.py", "bench_collect.py", "relevance_report.py",
           "bench_growth.py", "bench_classify.py", "bench_inbox.py", "bench_digest.py",
           "screens.py")


def main() -> int:
    failed = 0
    for name in SCRIPTS:
        path = HERE / name
        if not path.exists():
            print(f"-- {name}: missing, skipped")
            continue
        print(f"\n-- {name} " + "-" * (60 - len(name)), flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while defined
        started = time.perf_counter()
        spec.loader.exec_module(module)
        code = module.main()
        print(f"-- {name}: exit {code}, {time.perf_counter() - started:.1f} s", flush=True)
        failed |= bool(code)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
