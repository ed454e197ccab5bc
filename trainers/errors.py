"""The one exception type ``xtreme-adv train`` reports as a single line (docs/contracts.md s.1)."""

from __future__ import annotations


class TrainUserError(Exception):
    """Bad input from the user: printed as one line, exit status 2, never a traceback."""

    xtreme_adv_user_error = True
