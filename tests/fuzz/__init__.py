"""Fuzzing targets run by the suite on a fixed budget of examples (see `budget`).

Under ``CI=true`` Hypothesis runs derandomized (tests/conftest.py), so a landing never
depends on luck; ``MEDIAREF_FUZZ_EXAMPLES=20000 python -m pytest tests/fuzz`` explores
longer. Every failure found is kept as an ``@example`` beside its target.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def budget(examples: int) -> settings:
    """Hypothesis settings for a target: `examples` per run, or MEDIAREF_FUZZ_EXAMPLES."""
    return settings(
        max_examples=int(os.environ.get("MEDIAREF_FUZZ_EXAMPLES") or examples),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
