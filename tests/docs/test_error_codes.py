"""docs/api.md names every error code a client can meet, and only those.

The codes are read from the source, not from a list kept by hand: every string literal in a
place that holds an error code (a ``code=``/``error_code=`` argument, an argument in the
position of a parameter named ``code``, a ``code = "…"`` class attribute, a ``*_CODE``
constant, the values of a ``*_CODES`` table, a ``{"code": "…"}`` literal, a ``code``
parameter's default). Integers in those places are WebSocket close codes. Each code has one
home in the doc: the "Error codes" tables (HTTP, export failures), or the ``WS /ws``
section for the WebSocket's ``error`` frames and close codes. A code added to the source
without a line in the doc fails here, and so does a line whose code nothing produces.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.realtime.test_ws_contract import (
    documented_close_codes,
    documented_error_codes,
    uvicorn_close_codes,
    ws_section,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"

#: Parameters and keywords whose values are error codes.
CODE_NAMES = frozenset({"code", "error_code"})

#: Codes in the source that never reach a client, and why.
INTERNAL_CODES = {
    # RenderCancelled: the render loop's way to stop; the export ends with the status
    # ``cancelled`` and no error at all.
    "cancelled": "a cancelled export has no error",
}

_CODE_SHAPE = re.compile(r"^[a-z][a-z0-9_]*$")
_DOC_CODE = re.compile(r"^\|\s*`([a-z][a-z0-9_]*)`\s*\|", re.MULTILINE)


@dataclass
class Found:
    """What the source says: string codes and WebSocket close codes, each with where;
    ``export_codes`` are those written as an export's failure (an ``error_code=`` value, or
    a code met in the workers' own modules or the render engine's errors)."""

    codes: dict[str, list[str]] = field(default_factory=dict)
    closes: dict[int, list[str]] = field(default_factory=dict)
    export_codes: set[str] = field(default_factory=set)

    def add(self, node: ast.expr | None, where: str, *, export: bool = False) -> None:
        if not isinstance(node, ast.Constant):
            return
        value = node.value
        if isinstance(value, str) and _CODE_SHAPE.match(value):
            self.codes.setdefault(value, []).append(f"{where}:{node.lineno}")
            if export or where.startswith("workers/"):
                self.export_codes.add(value)
        elif isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 4999:
            self.closes.setdefault(value, []).append(f"{where}:{node.lineno}")


def _callable_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_dataclass(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if _callable_name(target) == "dataclass":
            return True
    return False


def code_positions(trees: Iterable[ast.Module]) -> dict[str, set[int]]:
    """Callable name → positions of its ``code`` parameter: functions, classes through their
    ``__init__`` (``self`` not counted), and dataclasses through their fields."""
    positions: dict[str, set[int]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                if _is_dataclass(node):
                    fields = [
                        item.target.id
                        for item in node.body
                        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                    ]
                    for index, name in enumerate(fields):
                        if name in CODE_NAMES:
                            positions.setdefault(node.name, set()).add(index)
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        owner = node.name if item.name == "__init__" else item.name
                        _function_positions(item, owner, positions, method=True)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                _function_positions(node, node.name, positions, method=False)
    return positions


def _function_positions(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    owner: str,
    positions: dict[str, set[int]],
    *,
    method: bool,
) -> None:
    names = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
    if method and names[:1] in (["self"], ["cls"]):
        names = names[1:]
    for index, name in enumerate(names):
        if name in CODE_NAMES:
            positions.setdefault(owner, set()).add(index)


def _code_targets(target: ast.expr, value: ast.expr | None) -> Iterator[ast.expr | None]:
    """The values assigned to a name that holds a code (``code``, ``*_CODE``)."""
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
        for one, other in zip(target.elts, value.elts, strict=False):
            yield from _code_targets(one, other)
    elif isinstance(target, ast.Name | ast.Attribute):
        name = target.id if isinstance(target, ast.Name) else target.attr
        if name in CODE_NAMES or name.endswith("_CODE"):
            yield value
        elif name.endswith("_CODES") and isinstance(value, ast.Dict):
            yield from value.values


def extract(sources: dict[str, str]) -> Found:
    """Every error code and close code in ``sources`` (module path → source text)."""
    trees = {where: ast.parse(text) for where, text in sources.items()}
    positions = code_positions(trees.values())
    found = Found()
    for where, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg in CODE_NAMES:
                        found.add(keyword.value, where, export=keyword.arg == "error_code")
                for index in positions.get(_callable_name(node.func) or "", set()):
                    if index < len(node.args):
                        found.add(node.args[index], where)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    for value in _code_targets(target, node.value):
                        found.add(value, where)
            elif isinstance(node, ast.AnnAssign):
                for value in _code_targets(node.target, node.value):
                    found.add(value, where)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value in CODE_NAMES:
                        found.add(value, where)
            elif isinstance(node, ast.arguments):
                named = [*node.posonlyargs, *node.args]
                positional = named[len(named) - len(node.defaults) :]
                defaults = list(zip(positional, node.defaults, strict=True))
                defaults += [
                    (arg, default)
                    for arg, default in zip(node.kwonlyargs, node.kw_defaults, strict=True)
                    if default is not None
                ]
                for arg, default in defaults:
                    if arg.arg in CODE_NAMES:
                        found.add(default, where)
    return found


def source_codes() -> Found:
    sources = {
        str(path.relative_to(ROOT)): path.read_text()
        for top in ("server", "workers")
        for path in sorted((ROOT / top).rglob("*.py"))
    }
    return extract(sources)


def doc_section(heading: str = "## Error codes") -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    text = DOC.read_text()
    start = text.index(f"\n{heading}\n")
    level = heading.split(" ", 1)[0]
    ends = [text.find(f"\n{h} ", start + 1) for h in ("#" * n for n in range(2, len(level) + 1))]
    ends = [end for end in ends if end != -1]
    return text[start : min(ends) if ends else len(text)]


def documented_codes() -> set[str]:
    """Every code with a home in the doc: the Error codes tables and the WebSocket's list."""
    tables = set(_DOC_CODE.findall(doc_section()))
    return tables | documented_error_codes(ws_section(DOC.read_text()))


def test_every_error_code_in_the_source_is_documented() -> None:
    produced = source_codes().codes
    missing = {
        code: where
        for code, where in sorted(produced.items())
        if code not in documented_codes() and code not in INTERNAL_CODES
    }
    assert missing == {}, "codes missing from docs/api.md"


def test_every_documented_error_code_is_produced_by_the_source() -> None:
    produced = set(source_codes().codes)
    assert sorted(documented_codes() - produced) == [], "docs/api.md lists codes nothing produces"
    assert sorted(documented_codes() & set(INTERNAL_CODES)) == [], "an internal code is documented"


def test_every_export_failure_code_is_in_the_export_failures_table() -> None:
    table = set(_DOC_CODE.findall(doc_section("### Export failures")))
    expected = source_codes().export_codes - set(INTERNAL_CODES)
    assert sorted(expected - table) == [], "export failure codes missing from the table"
    assert sorted(table - expected) == [], "the table lists codes no export fails with"


def test_every_http_table_code_is_produced_outside_the_websocket() -> None:
    """The HTTP table holds HTTP codes: each is produced somewhere but server/realtime."""
    table = set(_DOC_CODE.findall(doc_section("### HTTP")))
    found = source_codes().codes
    http = {c for c, where in found.items() if any("server/realtime/" not in w for w in where)}
    assert sorted(table - http) == [], "the HTTP table lists WebSocket-only codes"


def test_every_websocket_close_code_is_documented_and_only_those() -> None:
    documented = documented_close_codes(ws_section(DOC.read_text()))
    produced = set(source_codes().closes)
    assert sorted(produced - documented) == [], "close codes missing from docs/api.md"
    assert sorted(documented - produced - uvicorn_close_codes()) == [], "close codes nobody sends"


def test_the_extractor_sees_every_way_a_code_is_written() -> None:
    snippet = """
from dataclasses import dataclass

class Teapot(ApiError):
    status, code = 418, "im_a_teapot"

class Gone(Exception):
    code: str = "gone_for_good"

FROZEN_CODE = "frozen_solid"
STATUS_CODES = {451: "unavailable_for_legal_reasons"}

@dataclass(frozen=True)
class Shut(Exception):
    code: int
    reason: str

class Frame(Exception):
    def __init__(self, code: str, message: str) -> None: ...

def fail(rt, export, code, message): ...
def wrap(what, *, code="wrapped_up"): ...

def route():
    raise Conflict("x", code="brand_new")
    fail(rt, export, "stalled_again", "m")
    Frame("bad_frame", "m")
    Export.filter(id=1).update(error_code="written_down")
    body = {"code": "in_a_dict", "message": "m"}
    raise Shut(4242, "why")
    websocket.close(code=1234, reason="x")
    log.error("not a code at all")
"""
    found = extract({"snippet.py": snippet})
    assert set(found.codes) == {
        "im_a_teapot",
        "gone_for_good",
        "frozen_solid",
        "unavailable_for_legal_reasons",
        "wrapped_up",
        "brand_new",
        "stalled_again",
        "bad_frame",
        "written_down",
        "in_a_dict",
    }
    assert set(found.closes) == {4242, 1234}


def test_the_doc_parser_reads_code_rows_only() -> None:
    table = "| code | status |\n|---|---|\n| `gone` | 410 |\n| `4001` | auth |\nnot `a_row`\n"
    assert _DOC_CODE.findall(table) == ["gone"]


def test_the_export_table_is_its_own_section() -> None:
    exports = doc_section("### Export failures")
    assert "`stalled`" in exports and "`unknown_moment`" not in exports
    assert "### WebSocket" not in exports
