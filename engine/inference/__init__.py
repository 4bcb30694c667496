"""Running trained models: which model a chat side means, one shared copy of each base in memory, and
streaming generation for two sides at once."""
