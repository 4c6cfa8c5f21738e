"""Daily send windows, for the worker: the domain's rules, in ``campaigns.windows``.

Kept so that ``worker.windows`` imports keep working; ``status`` needs the same rules, and
``campaigns`` cannot import the worker.
"""

from campaigns.windows import in_window, next_opening, parse_hhmm, window_reason

__all__ = ["in_window", "next_opening", "parse_hhmm", "window_reason"]
