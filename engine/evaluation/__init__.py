"""Did fine-tuning help, and did it hurt? Metrics, question sets and the batch comparison report."""
