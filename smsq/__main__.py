"""``python -m smsq``: the same command line as the ``smsq`` script."""

from smsq.cli import main

if __name__ == "__main__":
    main()
