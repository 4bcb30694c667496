"""What this machine is and what it can do: hardware, software, dependencies and readiness checks."""
