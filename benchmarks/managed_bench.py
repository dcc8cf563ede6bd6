"""Signed-bundle cost: sign / verify a policy bundle versus just hashing its files.

Run: .venv/bin/python benchmarks/managed_bench.py [FILES]   (default 200 files of 4 KiB)
Prints seconds per operation and the ratio against the baseline measured in the same run, so
the numbers compare across machines.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from codex_admin.managed import sign_bundle, verify_bundle
from codex_admin.managed.signing import read_bundle_files


def best_of(fn: Callable[[], object], rounds: int = 7) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp)
        (bundle / "rules").mkdir()
        for i in range(count):
            (bundle / "rules" / f"r{i}.rules").write_bytes(bytes([i % 256]) * 4096)
        key = Ed25519PrivateKey.generate()

        def baseline() -> None:
            for path in sorted(bundle.rglob("*")):
                if path.is_file():
                    hashlib.sha256(path.read_bytes()).hexdigest()

        base = best_of(baseline)
        serial = iter(range(1, 10_000))
        sign = best_of(lambda: sign_bundle(bundle, key, serial=next(serial)))
        verify = best_of(lambda: verify_bundle(bundle, [key.public_key()]))
        walk = best_of(lambda: read_bundle_files(bundle))
        print(f"bundle: {count} files x 4 KiB")
        print(f"baseline read+sha256 : {base * 1e3:8.2f} ms  (1.00x)")
        print(f"read_bundle_files    : {walk * 1e3:8.2f} ms  ({walk / base:.2f}x)")
        print(f"sign_bundle          : {sign * 1e3:8.2f} ms  ({sign / base:.2f}x)")
        print(f"verify_bundle        : {verify * 1e3:8.2f} ms  ({verify / base:.2f}x)")


if __name__ == "__main__":
    main()
