"""Experiment families: each supplies its configs, model and trainer to the lottery loop."""
