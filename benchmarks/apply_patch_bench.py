"""apply_patch speed: a 2,000-hunk patch on a 50,000-line file, against one read + write.

Each round restores the 50,000-line file, then times (alternating, medians over the rounds):

* baseline: read the file and write it back once (``Path.read_bytes`` + ``Path.write_bytes``);
* parse: :func:`parse` of the patch (about 8,000 lines);
* apply: ``apply(patch, LocalFileSystem, atomic=True)``: preview (read, locate 2,000 chunks,
  build the new text and its unified diff), then the atomic commit (temp file, fsync, rename);
* codex-style: ``atomic=False`` (Codex's in-order mode, same work without the overlay).

Printed ratios are against the baseline measured in the same run.

    .venv/bin/python benchmarks/apply_patch_bench.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from codex_admin.apply_patch import LocalFileSystem, apply, parse

LINES = 50_000
HUNKS = 2_000


def build(root: Path) -> tuple[bytes, str]:
    source = "".join(f"    value_{i} = compute({i}, 'item {i}')\n" for i in range(LINES))
    step = LINES // HUNKS
    chunks = []
    for h in range(HUNKS):
        i = h * step + step // 2
        chunks.append(
            f"@@\n     value_{i - 1} = compute({i - 1}, 'item {i - 1}')\n"
            f"-    value_{i} = compute({i}, 'item {i}')\n"
            f"+    value_{i} = compute_fast({i}, 'item {i}')\n"
            f"     value_{i + 1} = compute({i + 1}, 'item {i + 1}')\n"
        )
    patch = "*** Begin Patch\n*** Update File: big.py\n" + "".join(chunks) + "*** End Patch\n"
    return source.encode(), patch


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source, text = build(root)
        target = root / "big.py"
        fs = LocalFileSystem(root)
        patch = parse(text)
        samples: dict[str, list[float]] = {"baseline": [], "parse": [], "apply": [], "codex": []}

        def baseline() -> None:
            target.write_bytes(target.read_bytes())

        for _ in range(rounds):
            target.write_bytes(source)
            samples["baseline"].append(timed(baseline))
            samples["parse"].append(timed(lambda: parse(text)))
            target.write_bytes(source)
            samples["apply"].append(timed(lambda: apply(patch, fs, atomic=True)))
            target.write_bytes(source)
            samples["codex"].append(timed(lambda: apply(patch, fs, atomic=False)))
        result = target.read_text()
        assert result.count("compute_fast(") == HUNKS, "the patch did not apply"
        base = statistics.median(samples["baseline"])
        print(
            f"{HUNKS} hunks on a {LINES}-line file ({len(source) / 1e6:.1f} MB), "
            f"patch {len(text.splitlines())} lines, medians of {rounds} alternating rounds"
        )
        print(f"  read + write once     {base * 1e3:8.2f} ms   1.0x")
        for key, label in (
            ("parse", "parse"),
            ("apply", "apply --atomic"),
            ("codex", "apply (in order)"),
        ):
            value = statistics.median(samples[key])
            print(f"  {label:<20}  {value * 1e3:8.2f} ms  {value / base:5.1f}x")


if __name__ == "__main__":
    main()
