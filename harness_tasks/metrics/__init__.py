"""Metrics as XTREME defines them, as lm-eval ``process_results`` and aggregation functions."""
