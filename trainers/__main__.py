"""``python -m trainers ...``: the entry that ``torchrun -m`` and ``accelerate launch -m`` start."""

import sys

from trainers.cli import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
