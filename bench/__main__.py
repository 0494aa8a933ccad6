"""`make bench`: run every bench/bench_*.py, print a table, write BENCHMARKS.md.

Each module defines ``run(args) -> list[Result]``. A result is one figure beside its anchor,
measured in the same run, so the ratio is meaningful on a noisy machine.
Usage: python -m config.launcher bench [name ...]   (e.g. `bench ingest stream`)
``soak`` is opt-in: only `make bench soak` runs it, and it writes its own BENCHMARKS.md section.
``compare`` is not a figure but a question — is this checkout's door slower than another's? (bench/compare.py)
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import re
import sys
import time
import traceback
from pathlib import Path

import django

BENCH_DIR = Path(__file__).resolve().parent
OUTPUT = BENCH_DIR.parent / "BENCHMARKS.md"
# Run only when named (`make bench soak`): too long for every `make bench`.
OPT_IN = {"soak"}


def machine() -> str:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    system = f"{platform.platform()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {system}"


def kept_opt_in_sections() -> str:
    """The opt-in sections (soak) of the BENCHMARKS.md being replaced: a full run does not run them."""
    if not OUTPUT.exists():
        return ""
    names = "|".join(sorted(OPT_IN))
    pattern = re.compile(rf"^## (?:{names})\b.*?(?=^## |\Z)", re.S | re.M)
    return "".join("\n" + match.group(0).rstrip() + "\n" for match in pattern.finditer(OUTPUT.read_text()))


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def main() -> int:
    if sys.argv[1:2] == ["compare"]:  # a question, not a figure: its own arguments
        _setup()
        from bench import compare

        return compare.main(sys.argv[2:])
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    _setup()
    from bench.common import Result, render_markdown, render_table

    everything = sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))
    names = args.names or [name for name in everything if name not in OPT_IN]
    sections: list[tuple[str, list[Result], float]] = []
    failed = False
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        started = time.perf_counter()
        print(f"== {name} …", flush=True)
        try:
            results = module.run(args)
        except Exception as exc:  # one broken benchmark must not throw away the others' figures
            traceback.print_exc()
            failed = True
            results = [Result(f"{name} did not finish", 0, "", met=False, notes=f"{type(exc).__name__}: {exc}")]
        sections.append((name, results, time.perf_counter() - started))
        print(render_table(results), flush=True)
    if set(names) <= OPT_IN:
        print(f"wrote its section into {OUTPUT}")  # an opt-in benchmark keeps its own section there
    elif not args.names:
        OUTPUT.write_text(render_markdown(sections, machine()) + kept_opt_in_sections())
        print(f"wrote {OUTPUT}")
    else:
        partial = BENCH_DIR.parent / "var" / f"BENCHMARKS-{'-'.join(names)}.md"
        partial.parent.mkdir(exist_ok=True)
        partial.write_text(render_markdown(sections, machine()))
        print(f"wrote {partial} (a partial run does not replace BENCHMARKS.md)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
