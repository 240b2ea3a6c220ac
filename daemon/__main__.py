"""``python -m daemon``: the same as the ``alvhd`` console script."""

from daemon.cli import console_main

if __name__ == "__main__":
    console_main()
