"""smsq's application layer: the entry points that wire the domain, the worker and the gateways.

- ``cli``: the ``smsq`` command line (``python -m smsq`` runs it too).
- ``views``: what the CLI shows: campaign tables, JSON, live progress bars.
- ``demo``: ``smsq demo``, one real campaign per gateway on embedded defaults.
- ``local``: a whole deployment on one machine (Redis, sandbox, database, workers, beat)
  in one call, for the demo, the benchmarks and the tests.

Layers, imports pointing down only (``tests/test_layers.py`` enforces it):
``providers`` <- ``campaigns`` <- ``worker`` <- ``smsq``. Nothing below imports this package.
"""
