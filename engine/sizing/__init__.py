"""Will it fit? Model shapes from config.json, a curated catalogue, and the memory estimator."""
