"""Fit to this machine, end to end: the dataset's lengths, a measured step, the planner's job and its CLI."""
