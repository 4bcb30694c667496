"""Reward functions for GRPO: the built-in checks, a user's own Python file, and the weighted set a run uses."""
