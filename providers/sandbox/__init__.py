"""The sandbox: one local HTTP server imitating all five gateways at their real paths.

An account moves between the sandbox and the real gateway by ``base_url`` alone. The
sandbox validates requests and answers as the manuals say, keeps demo accounts with
balances (``providers.sandbox.accounts``), records every accepted message, and injects
faults (``providers.sandbox.faults``). Start it with ``serve(...)``, with
``python -m providers.sandbox --port 0``, or from tests with ``running_sandbox()``.
"""

from providers.sandbox.accounts import DEMO_ACCOUNTS, DemoAccount, sandbox_accounts
from providers.sandbox.app import SandboxApp
from providers.sandbox.client import SandboxClient, SandboxProcess, running_sandbox
from providers.sandbox.faults import FaultKind, FaultSettings, FaultSpec
from providers.sandbox.record import RecordedMessage
from providers.sandbox.segments import segment_count
from providers.sandbox.server import serve

__all__ = [
    "DEMO_ACCOUNTS",
    "DemoAccount",
    "FaultKind",
    "FaultSettings",
    "FaultSpec",
    "RecordedMessage",
    "SandboxApp",
    "SandboxClient",
    "SandboxProcess",
    "running_sandbox",
    "sandbox_accounts",
    "segment_count",
    "serve",
]
