"""The README's "Log your model's traffic" section runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from monitoring_pipelines.demo.broker import create_topic

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Log your model's traffic"


def section_code() -> list[str]:
    """The section's Python blocks, in order."""
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return re.findall(r"```python\n(.*?)```", text[start : end if end > 0 else None], re.S)


def test_readme_traffic_section_runs(tmp_path, monkeypatch, kafka_broker):
    blocks = section_code()
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker)
    create_topic(kafka_broker, "credit-risk-scoring")  # the user's step: the sink never creates
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, f"{README}:{SECTION}", "exec"), namespace)
    namespace["logger"].close()
    assert len(list(Path("logs").rglob("*.parquet"))) >= 1
    assert len(list(Path("labels").rglob("*.parquet"))) == 1
