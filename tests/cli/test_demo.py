"""``smsq demo``'s engine, end to end: its own Redis, the sandbox, workers and beat, five campaigns.

Run in this process with a console writing to a string, so the report can be read back; the
demo's database is then asked directly whether every campaign completed.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from campaigns import api
from campaigns.db import dispose_engines
from campaigns.errors import CampaignNotFound
from campaigns.settings import get_settings
from smsq.demo import demo_campaigns, run_demo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_the_demo_completes_every_campaign_and_the_sandbox_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMSQ_BROKER_URL", raising=False)  # it starts a private Redis then
    get_settings.cache_clear()
    workdir = tmp_path / "demo"
    buffer = io.StringIO()
    try:
        run_demo(Console(file=buffer, width=120), workdir=workdir)
    finally:
        dispose_engines()
    report = buffer.getvalue()

    assert "(private)" in report, report
    agreement = re.search(
        r"The sandbox accepted (\d+) messages; the database records (\d+) sent \((they agree)\)",
        report,
    )
    assert agreement is not None, report
    assert int(agreement.group(1)) == int(agreement.group(2)) > 3000

    database_url = f"sqlite:///{workdir.resolve() / 'smsq.db'}"
    expected = [c.name for c in demo_campaigns(tmp_path)]  # (writes its CSV into tmp_path)
    try:
        infos = [
            api.get_campaign(i, database_url=database_url) for i in range(1, len(expected) + 1)
        ]
        with pytest.raises(CampaignNotFound):  # those, and no other
            api.get_campaign(len(expected) + 1, database_url=database_url)
    finally:
        dispose_engines()
    assert [i.name for i in infos] == expected
    assert [i.state for i in infos] == ["completed"] * len(expected), [
        (i.name, i.state) for i in infos
    ]
    assert sum(i.recipients.get("sent", 0) for i in infos) == int(agreement.group(2))
    for info in infos:
        assert not {"pending", "in_flight", "unknown"} & set(info.recipients), info
    by_name = {i.name: i for i in infos}
    routed = by_name["four-countries"]
    assert routed.route == "world"
    shares = {a.account: a.recipients.get("sent", 0) for a in routed.accounts}
    assert all(shares[a] > 0 for a in ("aakashsms_v3", "aamarsms", "smsplus_az", "smspresto"))
    failover = by_name["nepal-failover"]
    prepaid, backup = failover.accounts
    assert prepaid.state == "failed" and "Insufficient Credits" in (prepaid.reason or "")
    assert prepaid.recipients.get("sent", 0) > 0 and backup.recipients.get("sent", 0) > 0
    assert failover.recipients == {"sent": 500}
