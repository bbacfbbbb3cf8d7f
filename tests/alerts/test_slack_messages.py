"""Block Kit messages: one per deployment window headed by severity, deployment and window;
a line per drifted column with value vs threshold and its band; performance and links;
the resolved rendering; Block Kit limits; mrkdwn escaping of everything from data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring_pipelines.alerts.slack_messages import (
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_MESSAGE_TEXT,
    MAX_TEXT,
    Links,
    drift_message,
    escape,
    marker,
    resolved_message,
    run_failure_message,
    text_size,
)

T0 = datetime(2026, 11, 1, 3, tzinfo=UTC)
UI_URL = "http://dagster.test:3000"
LINKS = Links(UI_URL, "https://reports.test/{deployment}/{start}")


def row(column: str, value: float, severity="warning", metric="psi", threshold=0.1, **extra):
    return {
        "dedup_key": f"credit_risk|hour|{T0.isoformat()}|{column}|{metric}|{severity}",
        "deployment_id": "credit_risk",
        "kind": "drift",
        "window_start": T0,
        "window_end": T0 + timedelta(hours=1),
        "granularity": "hour",
        "column_name": column,
        "metric": metric,
        "value": value,
        "p_value": None,
        "threshold": threshold,
        "status": "significant" if severity == "critical" else "moderate",
        "severity": severity,
        "payload": None,
    } | extra


def texts(message: dict) -> list[str]:
    """Every text in the blocks (sections, fields, header)."""
    found = []
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found.extend(f["text"] for f in block.get("fields", []))
    return found


def test_one_message_for_a_window_reads_at_a_glance():
    rows = [
        row("annual_income", 0.27, "critical"),
        row("annual_income", 0.58, "critical", metric="wasserstein", threshold=0.2),
        row("region", 0.12),
        row("loan_purpose", 1.06, "critical"),
    ]
    message = drift_message(rows, LINKS, performance=[
        {"metric": "accuracy", "value": 0.912, "n_labelled": 1203}])  # fmt: skip
    blocks = message["blocks"]
    assert blocks[0]["text"]["text"] == "Critical drift · credit_risk · 2026-11-01 03:00–04:00 UTC"
    assert blocks[0]["block_id"] == marker([r["dedup_key"] for r in rows])
    assert [f["text"] for f in blocks[1]["fields"]] == [
        "*Severity*\n:red_circle: critical",
        "*Deployment*\ncredit_risk",
        "*Window*\n2026-11-01 03:00–04:00 UTC (hour)",
        "*Drifted*\n3 column(s), 4 result(s)",
    ]
    assert blocks[2]["text"]["text"].split("\n") == [
        ":red_circle: *loan_purpose*  psi 1.06 vs 0.1 significant",
        ":red_circle: *annual_income*  wasserstein 0.58 vs 0.2 significant"
        " · psi 0.27 vs 0.1 significant",
        ":large_orange_circle: *region*  psi 0.12 vs 0.1 moderate",
    ]  # fmt: skip
    assert blocks[3]["text"]["text"] == "*Performance* (1,203 labelled): accuracy 0.912"
    buttons = {e["text"]["text"]: e["url"] for e in blocks[4]["elements"]}
    assert buttons == {
        "Open in Dagster": f"{UI_URL}/assets/drift_scores?view=partitions"
        "&partition=credit_risk%7C2026-11-01-03%3A00",
        "Drift report": "https://reports.test/credit_risk/2026-11-01T03%3A00Z",
    }
    assert message["text"] == (
        "Critical drift · credit_risk · 2026-11-01 03:00–04:00 UTC: annual_income, region, "
        "loan_purpose"
    )


def test_p_values_categories_and_report_url_as_query():
    chi = row("segment", None, "critical", metric="chi_squared", threshold=0.05, p_value=0.0004,
              status="critical", payload={"categories": [
                  {"value": "sme", "reference_share": 0.3, "current_share": 0.55, "new": False},
                  {"value": "crypto", "reference_share": 0.0, "current_share": 0.2, "new": True},
              ]})  # fmt: skip
    message = drift_message([chi], Links(UI_URL, "https://r.test/report"))
    assert message["blocks"][2]["text"]["text"].split("\n") == [
        ":red_circle: *segment*  chi_squared p=0.0004 vs 0.05 critical",
        "      `sme` 30.0% → 55.0% · new `crypto` 0.0% → 20.0%",
    ]
    report = message["blocks"][-1]["elements"][1]["url"]
    assert report == (
        "https://r.test/report?deployment=credit_risk&start=2026-11-01T03%3A00Z"
        "&end=2026-11-01T04%3A00Z"
    )
    assert [b["type"] for b in drift_message([chi])["blocks"]] == ["header", "section", "section"]


def within_limits(message: dict) -> bool:
    return (
        len(message["blocks"]) <= MAX_BLOCKS
        and all(len(t) <= MAX_TEXT for t in texts(message))
        and text_size(message["blocks"]) <= MAX_MESSAGE_TEXT
        and len(message["text"]) <= 1000
    )


def test_a_long_column_list_stays_within_block_kit_limits():
    rows = [row(f"feature_{i:04d}_" + "x" * 200, 0.1 + i / 1000) for i in range(600)]
    message = drift_message(rows, LINKS)
    assert within_limits(message)
    assert len(message["blocks"][0]["text"]["text"]) <= MAX_HEADER
    body = "\n".join(t for t in texts(message))
    assert "… and 580 more column(s)" in body
    assert body.count(":large_orange_circle: *feature_") == 20
    assert message["text"].endswith("(+595 more)")
    # Many metrics and moved categories per column: the whole message's text is the limit.
    metrics = ["psi", "jensen_shannon", "hellinger", "wasserstein", "ks", "tvd", "z_score"]
    category = {"value": "c" * 100, "reference_share": 0.1, "current_share": 0.9, "new": True}
    wide = [
        row(f"{'long_feature_name_' * 4}{i:03d}", 0.5 + i / 100, "critical", metric=m,
            status="significant", payload={"categories": [category] * 3})
        for i in range(60) for m in metrics
    ]  # fmt: skip
    crowded = drift_message(wide, LINKS)
    assert within_limits(crowded)
    shown = sum(t.count(":red_circle: *long_feature") for t in texts(crowded))
    assert 0 < shown < 20 and f"… and {60 - shown} more column(s)" in texts(crowded)[-1]
    resolved = resolved_message([r | {"kind": "resolved"} for r in wide], LINKS, in_thread=True)
    assert within_limits(resolved)
    huge = drift_message([row("c" * 10_000, 0.5, payload={"categories": [
        {"value": "v" * 10_000, "reference_share": 0.1, "current_share": 0.9}]})])  # fmt: skip
    assert all(len(t) <= MAX_TEXT for t in texts(huge))


def test_resolved_rendering_of_the_original_and_the_thread_reply():
    rows = [row("age", 0.3, "critical"), row("income", 0.2)]
    partly = drift_message(
        rows, LINKS, resolved={("income", "psi", "training", "__all__"): T0 + timedelta(hours=3)}
    )
    lines = partly["blocks"][2]["text"]["text"].split("\n")
    assert lines == [
        ":red_circle: *age*  psi 0.3 vs 0.1 significant",
        ":white_check_mark: *income*  ~psi 0.2 vs 0.1 moderate~ :white_check_mark: stable 06:00",
    ]
    assert partly["blocks"][0]["text"]["text"].startswith("Critical drift")
    whole = drift_message(
        rows,
        LINKS,
        resolved={
            ("income", "psi", "training", "__all__"): T0,
            ("age", "psi", "training", "__all__"): T0 + timedelta(hours=4),
        },
    )
    assert (
        whole["blocks"][0]["text"]["text"] == "Resolved · credit_risk · 2026-11-01 03:00–04:00 UTC"
    )
    assert whole["blocks"][1]["fields"][0]["text"] == "*Severity*\n:red_circle: critical (resolved)"
    later = T0 + timedelta(hours=4)
    notice = [row("age", 0.01, "info", kind="resolved", window_start=later,
                  window_end=later + timedelta(hours=1), status="stable")]  # fmt: skip
    reply = resolved_message(notice, LINKS, in_thread=True)
    assert [b["type"] for b in reply["blocks"]] == ["section", "section", "actions"]
    assert reply["blocks"][0]["block_id"] == marker([notice[0]["dedup_key"]])
    assert reply["blocks"][0]["text"]["text"] == (
        ":white_check_mark: *Resolved* · credit_risk · stable again in 2026-11-01 07:00–08:00 UTC"
        " (hour)"
    )
    assert reply["blocks"][1]["text"]["text"] == "• *age* psi"
    alone = resolved_message(notice, LINKS)
    assert alone["blocks"][0]["type"] == "header"


def test_run_failure_message_names_job_cause_partition_and_links_the_run():
    failure = {
        "dedup_key": "run_failure|abc12345xyz",
        "deployment_id": "credit_risk",
        "reason": "hourly_aggregates: FileNotFoundError: reference data x does not exist",
        "payload": {"run_id": "abc12345xyz", "job_name": "__ASSET_JOB",
                    "partition": "credit_risk|2026-11-01-03:00"},
    }  # fmt: skip
    message = run_failure_message(failure, LINKS)
    assert message["blocks"][0]["text"]["text"] == "Run failed · __ASSET_JOB · credit_risk"
    assert [f["text"] for f in message["blocks"][1]["fields"]] == [
        "*Job*\n__ASSET_JOB",
        "*Deployment*\ncredit_risk",
        "*Run*\nabc12345",
        "*Partition*\ncredit_risk|2026-11-01-03:00",
    ]
    assert message["blocks"][2]["text"]["text"] == (
        "*Cause*\n```hourly_aggregates: FileNotFoundError: reference data x does not exist```"
    )
    assert message["blocks"][3]["elements"][0]["url"] == f"{UI_URL}/runs/abc12345xyz"


HOSTILE = ["<!channel>", "<https://evil.test|click>", "<@U0ADMIN>", "a & b > c", "<!here|x>"]


@pytest.mark.parametrize("name", HOSTILE)
def test_names_from_traffic_and_configuration_cannot_ping_or_link(name):
    category = {"value": name, "reference_share": 0.0, "current_share": 0.4, "new": True}
    drift = drift_message([row(name, 0.4, payload={"categories": [category]})], LINKS)
    notice = resolved_message([row(name, 0.01, "info", kind="resolved")], LINKS)
    failure = run_failure_message(
        {"dedup_key": "k", "deployment_id": "m", "reason": f"KeyError: {name}",
         "payload": {"run_id": "r", "job_name": name}}, LINKS)  # fmt: skip
    for message in (drift, notice, failure):
        for text in [message["text"], *texts(message)]:
            assert "<" not in text and ">" not in text, text
        assert escape(name) in message["text"] + "".join(texts(message))
    assert escape("<!channel> & co") == "&lt;!channel&gt; &amp; co"
