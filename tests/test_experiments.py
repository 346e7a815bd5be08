"""Measured experiments against the real lab."""

from duplexlab.experiments.polling import measure_polling


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
