"""The study commands' user error (one line, exit 2; docs/contracts.md section 1)."""


class StudyError(Exception):
    """Bad input to ``xtreme-adv study``: printed as one line, exit code 2."""

    xtreme_adv_user_error = True
