"""Copy the mock's market catalogue into kiekit-market, which checks the same fields before
anything is sent. The mock's ``catalogue.json`` is the one file to edit; this writes
``plugins/market/src/kiekit_market/_catalogue.py`` from it (a Python module, so the plugin reads
no file at run time). ``tools/tests/test_catalogue_copy.py`` fails while the two differ.

Usage: python3 tools/sync_catalogue.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "mockserver/src/kiekit_mock/families/market_models/catalogue.json"
TARGET = ROOT / "plugins/market/src/kiekit_market/_catalogue.py"

HEADER = '''# ruff: noqa: E501 - one line of JSON, written by a script
"""KIE's market catalogue, as the mock knows it: written by tools/sync_catalogue.py from
mockserver/src/kiekit_mock/families/market_models/catalogue.json — edit that file, not this one."""

# fmt: off
CATALOGUE_JSON = r"""
'''


def module_text() -> str:
    document = json.loads(SOURCE.read_text(encoding="utf-8"))
    text = json.dumps(document["models"], ensure_ascii=False, separators=(",", ":"))
    if '"""' in text:
        raise ValueError("the catalogue holds a triple quote; it cannot be embedded as is")
    return HEADER + text + '\n"""\n'


def main() -> None:
    TARGET.write_text(module_text(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
