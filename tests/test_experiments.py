"""Measured experiments against the real lab."""

import pytest

import duplexlab as dl
from duplexlab.experiments.polling import measure_polling

from .helpers import SEEDS


def test_polling_experiment_counts_requests_delay_and_bytes(lab):
    """10 students polling every 0.2 s: request counts follow the theory; delay near interval/2."""
    result = lab.run(measure_polling(lab.url, interval=0.2, judge_seconds=0.4, students=10))
    assert len(result.runs) == 10 and all(r.done for r in result.runs)
    per_student = result.requests / 10
    assert 3 <= per_student <= 6
    assert result.wasted == result.requests - 10
    assert all(0 <= d <= 0.2 + 0.1 for d in result.delays)
    assert 0.05 <= result.mean_delay <= 0.2
    assert result.bytes_total > result.header_bytes > 0
    assert "detection delay" in str(result)


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_2_delay_claims_hold_or_say_why_for_any_seed(lab, seed):
    """With five seeds, the sweep's delay claims are ✓ (or ✗ with a reason); no nan or inf."""
    results = [
        lab.run(measure_polling(lab.url, interval=i, judge_seconds=0.5, students=5, seed=seed), 60)
        for i in (0.25, 0.5, 1.0)
    ]
    text = dl.experiments.delay_claims(results) + "\n" + "\n".join(str(r) for r in results)
    assert "nan" not in text and "inf" not in text, text
    claims = [line for line in text.splitlines() if line and line[0] in "✓✗"]
    assert len(claims) == 3
    assert sum(line.startswith("✓") for line in claims) >= 2, text
