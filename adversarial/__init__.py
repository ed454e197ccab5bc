"""xtreme-adv: adversarial."""
