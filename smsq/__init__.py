"""smsq's application layer: the entry points that wire the domain, the worker and the gateways.

- ``cli``: the ``smsq`` command line (``python -m smsq`` runs it too); ``cli_api`` its
  ``smsq api`` and ``smsq api-key`` commands.
- ``views``: what the CLI shows: campaign tables, JSON, live progress bars.
- ``api``: the HTTP API (``smsq api``): REST under ``/v1``; ``api_process`` runs it as a
  child process on loopback.
- ``exports``: recipients as CSV, for ``smsq recipients`` and the API's export alike.
- ``demo``: ``smsq demo``, one real campaign per gateway on embedded defaults.
- ``local``: a whole deployment on one machine (Redis, sandbox, database, workers, beat)
  in one call, for the demo, the benchmarks and the tests.

Layers, imports pointing down only (``tests/test_layers.py`` enforces it):
``providers`` <- ``campaigns`` <- ``worker`` <- ``smsq``. Nothing below imports this package.
"""
