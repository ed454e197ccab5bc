"""xtreme-adv: trainers."""
