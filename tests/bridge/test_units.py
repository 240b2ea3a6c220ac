"""The bridge's pure parts: message text, routing, quiet hours, rate limit, digest, watch,
settings, the outbox and the per-message Apprise URL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from adapters.mqtt.payloads import AlertPayload, OrderPayload
from adapters.notify.apprise_sender import scrub, url_for
from adapters.notify.outbox import SqliteOutbox
from daemon.bridge.messages import (
    Notice,
    Rejected,
    StatusReport,
    legs_text,
    mask_accounts,
    parse_mqtt,
)
from daemon.bridge.policy import TargetRule, digest_notice, has_slot, in_quiet_hours, routes
from daemon.bridge.settings import load_bridge_settings
from daemon.bridge.watch import DaemonWatch, Health
from daemon.errors import ConfigError
from tests.fakes.decisions import alert, order

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _notice(kind: str = "data_stale", severity: str = "warning", n: int = 0) -> Notice:
    return Notice(
        dedup_key=f"k{n}",
        instance="default",
        kind=kind,
        severity=severity,
        title=f"t{n}",
        body="",
        click_url=None,
        ts=NOW,
    )


# --------------------------------------------------------------------------- messages


def test_proposal_title_reads_like_the_issue_example() -> None:
    payload = OrderPayload.of(order("d1")).model_dump_json().encode()
    n = parse_mqtt(
        "alvhd/paper-1/orders/proposed",
        payload,
        prefix="alvhd",
        now=NOW,
        link_base_url="https://x.example/",
    )
    assert isinstance(n, Notice)
    assert n.title == "L1 ON — hedge proposal: buy 12 VIX Mar-18 22C @ 1.35 ($1,620)"
    assert n.body.splitlines() == [
        "• MACD < 0",
        "Covers 53% of the condor's $25,000 loss in the VIX +6 pt scenario",
        "Limit 1.35 DAY · ref alvh:L1:open:20200318:22:d1",
    ]
    assert (n.kind, n.severity, n.dedup_key, n.instance) == (
        "order_proposed",
        "warning",
        "d1",
        "paper-1",
    )
    assert n.click_url == "https://x.example/paper-1/d1"


def test_activation_alert_has_reasons_and_exit_rule_and_no_link_by_default() -> None:
    payload = AlertPayload.of(alert("a9")).model_dump_json().encode()
    n = parse_mqtt("alvhd/default/alerts/layer_activated", payload, prefix="alvhd", now=NOW)
    assert isinstance(n, Notice)
    assert n.title == "L1 ON — MACD < 0"
    assert n.body == "• MACD < 0\nEnds when: MACD line >= 0 for 3 closes"
    assert n.click_url is None


def test_account_ids_are_masked_to_the_last_three_characters() -> None:
    assert mask_accounts("live guard: account DU1234567 / U7654321 refused") == (
        "live guard: account ******567 / *****321 refused"
    )
    raw = {
        "v": 1,
        "decision_id": "b1",
        "ts": "2026-11-30T12:00:00Z",
        "kind": "broker",
        "severity": "critical",
        "key": "k",
        "message": "orders refused on U7654321",
    }
    n = parse_mqtt("alvhd/default/alerts/broker", json.dumps(raw).encode(), prefix="alvhd", now=NOW)
    assert isinstance(n, Notice)
    assert "7654321" not in n.title
    assert "*****321" in n.title


def test_unreadable_payloads_are_rejected_with_a_reason_not_raised() -> None:
    bad = [
        b"{not json",
        b"[1]",
        json.dumps({"v": 2, "state": "online"}).encode(),
        json.dumps({"v": 1, "kind": "x"}).encode(),
    ]
    topics = ["alvhd/d/alerts/x", "alvhd/d/status", "alvhd/d/status", "alvhd/d/alerts/x"]
    for topic, payload in zip(topics, bad, strict=True):
        assert isinstance(parse_mqtt(topic, payload, prefix="alvhd", now=NOW), Rejected)
    assert parse_mqtt("alvhd/d/layers", b"{}", prefix="alvhd", now=NOW) is None
    assert parse_mqtt("alvhd/d/status", b"", prefix="alvhd", now=NOW) is None


def test_order_status_maps_rejections_to_critical() -> None:
    raw = {
        "v": 1,
        "type": "order_status",
        "order_ref": "alvh:L1:open:x",
        "decision_id": "d",
        "status": "rejected",
        "filled_qty": 0,
        "error_code": 201,
        "error_text": "margin",
    }
    n = parse_mqtt("alvhd/default/orders/status", json.dumps(raw).encode(), prefix="alvhd", now=NOW)
    assert isinstance(n, Notice)
    assert (n.severity, n.kind) == ("critical", "order_status")
    assert n.title == "Order rejected — alvh:L1:open:x"
    assert "IB 201: margin" in n.body


def test_status_without_the_new_fields_is_read_with_defaults() -> None:
    raw = {
        "v": 1,
        "state": "offline",
        "ts": "2026-11-30T11:00:00Z",
        "mode": "paper",
        "source": "ibkr",
        "version": "0.1.0",
        "source_done": False,
    }
    rep = parse_mqtt("alvhd/default/status", json.dumps(raw).encode(), prefix="alvhd", now=NOW)
    assert rep == StatusReport(
        instance="default",
        state="offline",
        ts=datetime(2026, 11, 30, 11, tzinfo=UTC),
        health="ok",
        reasons=(),
        clean_stop=False,
        mode="paper",
    )


# --------------------------------------------------------------------------- policy


def test_routing_phone_gets_critical_layer_changes_and_proposals_only() -> None:
    phone = TargetRule(
        name="phone",
        min_severity="critical",
        kinds=frozenset({"layer_activated", "order_proposed"}),
    )
    assert routes(phone, _notice("layer_activated", "warning"))
    assert routes(phone, _notice("order_proposed", "warning"))
    assert routes(phone, _notice("broker", "critical"))
    assert not routes(phone, _notice("data_stale", "warning"))
    slack = TargetRule(name="slack", exclude_kinds=frozenset({"data_stale"}))
    assert routes(slack, _notice("roll", "info"))
    assert not routes(slack, _notice("data_stale", "critical"))


@pytest.mark.parametrize(
    ("start", "end", "utc_hour", "quiet"),
    [
        (time(22), time(7), 20, False),  # 21:00 in Paris (UTC+1 in November)
        (time(22), time(7), 21, True),  # 22:00 Paris: quiet
        (time(22), time(7), 5, True),
        (time(22), time(7), 6, False),  # 07:00 Paris: over
        (time(9), time(17), 10, True),
    ],
)
def test_quiet_hours_in_the_target_time_zone(
    start: time, end: time, utc_hour: int, quiet: bool
) -> None:
    rule = TargetRule(name="p", quiet_start=start, quiet_end=end, quiet_tz="Europe/Paris")
    assert in_quiet_hours(rule, NOW.replace(hour=utc_hour)) is quiet


def test_sliding_window_rate_limit() -> None:
    rule = TargetRule(name="p", rate_limit_count=10, rate_limit_window_s=60)
    t0 = NOW.timestamp()
    sent = [t0 + i for i in range(10)]
    assert not has_slot(rule, sent, t0 + 30)
    assert has_slot(rule, sent, t0 + 60.5)  # the first one left the window
    assert has_slot(TargetRule(name="u"), sent * 100, t0)


def test_digest_says_how_many_and_lists_the_first_titles() -> None:
    rows = [(100 + i, _notice(n=i)) for i in range(12)]
    d = digest_notice("phone", rows, NOW + timedelta(minutes=10))
    assert d.title == "12 more alerts in the last 10 min"
    assert d.body.splitlines()[0] == "• t0"
    assert d.body.splitlines()[-1] == "… and 4 more"
    assert d.dedup_key == "digest:phone:100-111"


# --------------------------------------------------------------------------- watch


def _status(state: str = "online", ts: datetime = NOW, **kw: object) -> StatusReport:
    return StatusReport(
        instance="default",
        state=state,
        ts=ts,
        health=str(kw.get("health", "ok")),
        reasons=tuple(kw.get("reasons", ())),  # type: ignore[arg-type]
        clean_stop=bool(kw.get("clean_stop", False)),
        mode="paper",
    )


def test_watch_silence_raises_one_down_then_one_back() -> None:
    w = DaemonWatch(silence_s=90, started_at=NOW, instances=("default",))
    assert w.on_status(_status(), NOW) == []
    assert w.tick(NOW + timedelta(seconds=80)) == []
    down = w.tick(NOW + timedelta(seconds=91))
    assert [n.title for n in down] == ["alvhd is down (default)"]
    assert "no status or heartbeat for 91 s" in down[0].body
    assert w.tick(NOW + timedelta(seconds=120)) == []  # once
    later = NOW + timedelta(seconds=130)
    back = w.on_status(_status(ts=later), later)
    assert [n.title for n in back] == ["alvhd is back (default)"]
    assert w.health("default") is Health.OK


def test_watch_clean_stop_is_quiet_and_degraded_is_reported() -> None:
    w = DaemonWatch(silence_s=90, started_at=NOW, instances=("default",))
    w.on_status(_status(), NOW)
    assert w.on_status(_status("offline", clean_stop=True), NOW) == []
    assert w.tick(NOW + timedelta(hours=3)) == []
    t = NOW + timedelta(hours=3)
    assert w.on_status(_status(ts=t), t) == []
    deg = w.on_status(_status(ts=t, health="degraded", reasons=("ib_unreachable",)), t)
    assert [n.title for n in deg] == ["alvhd is degraded (default)"]
    assert "ib_unreachable" in deg[0].body


def test_watch_old_retained_status_counts_as_silence() -> None:
    w = DaemonWatch(silence_s=90, started_at=NOW, instances=("default",))
    out = w.on_status(_status(ts=NOW - timedelta(hours=2)), NOW)
    assert [n.title for n in out] == ["alvhd is down (default)"]


def test_watch_never_heard_instance_is_down_after_the_silence() -> None:
    w = DaemonWatch(silence_s=60, started_at=NOW, instances=("default",))
    assert w.tick(NOW + timedelta(seconds=59)) == []
    out = w.tick(NOW + timedelta(seconds=61))
    assert "since the bridge started" in out[0].body


# --------------------------------------------------------------------------- outbox


def test_outbox_dedups_per_target_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    ob = SqliteOutbox(path)
    assert ob.add([("a", _notice(n=1)), ("b", _notice(n=1))], 1.0) == ["a", "b"]
    ob.close()
    ob = SqliteOutbox(path)
    assert ob.add([("a", _notice(n=1)), ("a", _notice(n=2))], 2.0) == ["a"]
    row = ob.next_pending("a")
    assert row is not None
    assert row.notice.title == "t1"
    ob.set_state(row.id, "sent", 3.0)
    assert ob.sent_since("a", 2.5) == [3.0]
    assert ob.depth() == {("a", "pending"): 1, ("b", "pending"): 1}
    ob.close()


# --------------------------------------------------------------------------- settings


def _toml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bridge.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_bad_bridge_values_name_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALVH_SECRETS_DIR", str(tmp_path / "none"))
    cases = {
        "daemon_silence_s = 1\n": "bridge.daemon_silence_s = 1 is invalid",
        "colour = 1\n": "bridge.colour = 1 is not a known key",
        '[[targets]]\nname = "p"\nurl = "ntfy://h/t"\nmin_severity = "loud"\n': (
            "bridge.targets.0.min_severity"
        ),
        '[[targets]]\nname = "p"\nurl = "ntfy://h/t"\nkinds = ["market"]\n': "unknown kind",
        '[[targets]]\nname = "p"\nurl = "ntfy://h/t"\nquiet_start = "22:00"\n': (
            "quiet_start and quiet_end go together"
        ),
        '[[targets]]\nname = "p"\nurl_secret = "slack_url"\n': "cannot read",
        '[mqtt]\ntls_ca_file = "/nonexistent/ca.crt"\n': "bridge.mqtt.tls_ca_file",
    }
    for text, expected in cases.items():
        with pytest.raises(ConfigError, match="config error") as err:
            load_bridge_settings(_toml(tmp_path, text))
        assert expected in str(err.value), (text, str(err.value))


def test_target_url_from_the_secrets_dir(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "slack_url").write_text("https://hooks.slack.com/services/T1/B2/C3\n")
    s = load_bridge_settings(
        _toml(tmp_path, '[[targets]]\nname = "slack"\nurl_secret = "slack_url"\n'),
        secrets_dir=secrets,
    )
    assert s.target_url(s.targets[0]) == "https://hooks.slack.com/services/T1/B2/C3"
    assert "T1" not in json.dumps(s.masked_dump())


# --------------------------------------------------------------------------- apprise url


def test_ntfy_url_gets_priority_tags_and_click_unless_the_user_set_them() -> None:
    n = Notice(
        dedup_key="d",
        instance="i",
        kind="broker",
        severity="critical",
        title="t",
        body="b",
        click_url="https://x/i/d",
        ts=NOW,
    )
    url = url_for("ntfy://127.0.0.1:8080/alvhd", n, 15)
    assert "priority=max" in url
    assert "click=https%3A%2F%2Fx%2Fi%2Fd" in url
    assert "tags=rotating_light%2Calvhd%2Cbroker" in url
    assert "priority=low" in url_for("ntfy://h/t?priority=low", n, 15)
    slack = url_for("https://hooks.slack.com/services/T/B/C", n, 15)
    assert "priority" not in slack
    assert "rto=15" in slack


def test_reasons_never_carry_the_webhook_url() -> None:
    text = "Failed to send to https://hooks.slack.com/services/T1/B2/SECRET: 503"
    assert scrub(text) == "Failed to send to https://… 503"


def test_a_roll_with_leg_ratios_shows_them() -> None:
    legs = [
        {"right": "C", "strike": 17.0, "expiry": "2020-01-22", "position_qty": -33},
        {"right": "C", "strike": 18.0, "expiry": "2020-02-19", "position_qty": 14},
    ]
    assert legs_text(legs, 2) == "2 × VIX (−33 Jan-22 17C, +14 Feb-19 18C)"
