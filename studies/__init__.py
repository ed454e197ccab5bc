"""``xtreme-adv study``: the project's question (is X-STILTs training more or less robust than
direct fine-tuning?) declared once in a YAML file, planned into cells, run anywhere, resumed
after any stop and reported with the leaderboard's paired intervals.

This package reaches the others only through the ``xtreme-adv`` command and the files it writes
(docs/contracts.md): it never imports ``harness_tasks``, ``adversarial``, ``trainers`` or
``leaderboards``.
"""
