"""The one exception type `leaderboards` raises for bad input (files, fields, values)."""

from __future__ import annotations


class LeaderboardError(Exception):
    """Bad input: the message names the file, the field and the value.

    ``xtreme_adv_user_error`` lets the ``xtreme-adv`` dispatcher print it as one line
    (docs/contracts.md section 1).
    """

    xtreme_adv_user_error = True
