"""``python -m gitsm``: the ``gitsm`` command line."""

from gitsm.cli import main

if __name__ == "__main__":
    main()
