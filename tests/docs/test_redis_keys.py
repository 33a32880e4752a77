"""Every Redis key is named in server/adapters/redis_keys.py, and nowhere else.

The test reads every module of server/ and workers/ (and their Lua scripts) and fails on
a ``reelay:`` literal outside the registry: a key typed inline is a key nobody can find
when renaming, expiring or sharding the keyspace.
"""

from __future__ import annotations

import ast
from pathlib import Path

from server.adapters import redis_keys

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "server" / "adapters" / "redis_keys.py"


def key_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string constant in ``source`` that spells a reelay key."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and f"{redis_keys.NAMESPACE}:" in node.value
    ]


def test_no_module_outside_the_registry_spells_a_key() -> None:
    stray = []
    for package in ("server", "workers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == REGISTRY:
                continue
            for line, text in key_literals(path.read_text(encoding="utf-8")):
                stray.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
        for path in sorted((ROOT / package).rglob("*.lua")):
            if f"{redis_keys.NAMESPACE}:" in path.read_text(encoding="utf-8"):
                stray.append(f"{path.relative_to(ROOT)}: names a key")
    assert stray == [], "build these keys in server/adapters/redis_keys.py:\n" + "\n".join(stray)


def test_the_check_sees_plain_and_formatted_literals() -> None:
    source = 'A = "reelay:x"\nB = f"reelay:y:{A}"\nC = "reelay dev: fine"\n'
    assert [line for line, _ in key_literals(source)] == [1, 2]


def test_the_registry_names_the_keys_the_modules_build() -> None:
    assert redis_keys.event_seq("p") == "reelay:events:{p}:seq"
    assert redis_keys.event_log("p") == "reelay:events:{p}:log"
    assert redis_keys.event_channel("p") == "reelay:events:p"
    assert redis_keys.chunk_lease("e", 2, 3) == "reelay:lease:e:2:3"
    assert redis_keys.broker_delayed_queue("chunks") == "reelay:chunks.DQ"
