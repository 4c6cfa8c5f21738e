"""``python -m providers.sandbox``: the announced URL, faults from a file and flags."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from providers.sandbox import accounts as demo
from providers.sandbox.cli import main, parser, settings_from
from providers.sandbox.client import SandboxProcess

FORM = {
    "auth_token": demo.AAKASH_TOKEN,
    "from": demo.AAKASH_SENDER,
    "to": "9841000001",
    "text": "hi",
}


def test_flags_extend_the_file(tmp_path: Path) -> None:
    faults_file = tmp_path / "faults.json"
    file_settings = {"latency_ms": 5, "rates": {"http_503": 0.1}, "fail_numbers": ["1"]}
    faults_file.write_text(json.dumps(file_settings))
    args = parser().parse_args(
        ["--faults", str(faults_file), "--latency-ms", "7", "--rate", "http_500=0.2"]
        + ["--next", "http_504=3", "--fail-number", "2", "--seed", "9"]
    )
    settings = settings_from(args)
    assert settings.latency_ms == 7 and settings.seed == 9
    assert settings.rates == {"http_503": 0.1, "http_500": 0.2}
    assert settings.next == {"http_504": 3}
    assert settings.fail_numbers == ("1", "2")


@pytest.mark.parametrize("argv", [["--rate", "http_500"], ["--rate", "http_999=0.1"]])
def test_bad_fault_flags_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


@pytest.mark.integration
def test_prints_a_parseable_url() -> None:
    command = [sys.executable, "-m", "providers.sandbox", "--host", "127.0.0.1", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.fullmatch(r"SANDBOX_URL=(http://127\.0\.0\.1:\d+)\n", line)
            assert match is not None, line
            assert httpx.get(match.group(1) + "/_sandbox/health").json()["ok"] is True
        finally:
            process.terminate()
            process.wait(timeout=5)


@pytest.mark.integration
def test_faults_at_start_and_reset_restores_them() -> None:
    flags = ["--next", "http_500=1", "--latency-ms", "1"]
    with SandboxProcess({"next": {"http_503": 1}}, extra_args=flags) as process:
        url = process.url + "/admin/public/sms/v1/send"
        with httpx.Client() as http:
            assert [http.post(url, data=FORM).status_code for _ in range(3)] == [500, 503, 200]
            process.client.reset()
            assert http.post(url, data=FORM).status_code == 500
