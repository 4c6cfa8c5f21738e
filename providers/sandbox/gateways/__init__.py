"""The five imitated gateways, one module each; ``providers.sandbox.routes`` maps their paths."""
