"""xtreme-adv: leaderboards."""
