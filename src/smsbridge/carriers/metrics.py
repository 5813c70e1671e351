"""Carrier health and counters in Prometheus text format, for GET /metrics."""

from __future__ import annotations

from typing import Any


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def carrier_metrics(rows: list[dict[str, Any]]) -> str:
    """The carrier rows of /v1/carrier/connections in Prometheus text format: health for every
    kind of carrier, and the SMPP counters for SMPP connections."""
    lines = [
        "# HELP smsbridge_carrier_up 1 when the connection or account is usable.",
        "# TYPE smsbridge_carrier_up gauge",
    ]
    for row in rows:
        up = row.get("carrier_state", "up") == "up" and row.get("state") in ("bound", "up")
        lines.append(
            f'smsbridge_carrier_up{{connection="{_label(row["name"])}",'
            f'kind="{_label(row.get("kind", ""))}"}} {1 if up else 0}'
        )
    for metric, key, kind in (
        ("smsbridge_carrier_recent_failures", "recent_failures", "gauge"),
        ("smsbridge_carrier_failovers_total", "failovers", "counter"),
        ("smsbridge_carrier_submitted_total", "submitted", "counter"),
        ("smsbridge_carrier_receipts_total", "receipts", "counter"),
        ("smsbridge_carrier_inbound_total", "inbound", "counter"),
        ("smsbridge_carrier_inbound_refused_total", "inbound_refused", "counter"),
        ("smsbridge_carrier_billing_mismatches_total", "billing_mismatches", "counter"),
    ):
        lines.append(f"# TYPE {metric} {kind}")
        lines += [
            f'{metric}{{connection="{_label(r["name"])}"}} {r[key]}' for r in rows if key in r
        ]
    smpp = [r for r in rows if r.get("kind") == "smpp"]
    lines += [
        "# HELP smsbridge_smpp_up 1 when the connection is bound.",
        "# TYPE smsbridge_smpp_up gauge",
    ]
    for row in smpp:
        lines.append(
            f'smsbridge_smpp_up{{connection="{_label(row["name"])}"}} '
            f"{1 if row['state'] == 'bound' else 0}"
        )
    for metric, key, kind in (
        ("smsbridge_smpp_submitted_total", "submitted", "counter"),
        ("smsbridge_smpp_receipts_total", "receipts", "counter"),
        ("smsbridge_smpp_inbound_total", "inbound", "counter"),
        ("smsbridge_smpp_window_in_use", "window_in_use", "gauge"),
        ("smsbridge_smpp_submits_per_second", "submits_per_second", "gauge"),
        ("smsbridge_smpp_connects_total", "connects", "counter"),
    ):
        lines.append(f"# TYPE {metric} {kind}")
        lines += [f'{metric}{{connection="{_label(r["name"])}"}} {r[key]}' for r in smpp]
    lines.append("# TYPE smsbridge_smpp_errors_total counter")
    for row in smpp:
        for code, count in row["errors"].items():
            lines.append(
                f'smsbridge_smpp_errors_total{{connection="{_label(row["name"])}",'
                f'code="{_label(code)}"}} {count}'
            )
    lines.append("# TYPE smsbridge_carrier_errors_total counter")
    for row in rows:
        if row.get("kind") == "smpp":
            continue
        for code, count in row.get("errors", {}).items():
            lines.append(
                f'smsbridge_carrier_errors_total{{connection="{_label(row["name"])}",'
                f'code="{_label(code)}"}} {count}'
            )
    return "\n".join(lines) + "\n"
