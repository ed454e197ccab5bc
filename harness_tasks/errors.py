"""User-facing errors: reported as one line by the ``xtreme-adv`` dispatcher, never a traceback."""


class XtremeAdvError(Exception):
    """Bad input or missing data; the message names what is wrong and how to fix it."""

    xtreme_adv_user_error = True
