"""Where the checkout's fixtures live. The code under test is the installed wheel, never the checkout."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
