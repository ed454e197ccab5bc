"""Generated lm-eval task YAMLs (one folder per XTREME task); see ``generate.py``."""
