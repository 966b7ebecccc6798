"""docs/embedding.md runs: every ```python block, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "embedding.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_embedding_guide_has_a_runnable_example() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 3
    assert any("build_in_memory" in b for b in blocks)
    assert any("asyncio.run(" in b for b in blocks)


def test_every_python_block_of_the_embedding_guide_runs() -> None:
    namespace: dict[str, object] = {"__name__": "embedding_guide"}
    for number, block in enumerate(python_blocks(), start=1):
        code = compile(block, f"{DOC.name}[python block {number}]", "exec")
        exec(code, namespace)  # our own documentation, run as a test
    # The guide's own tests ran (asyncio.run); its fixture and functions exist.
    assert callable(namespace["take_deposit"])
    assert callable(namespace["harness"])
