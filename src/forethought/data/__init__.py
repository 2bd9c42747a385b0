"""Datasets: the episode schema, the on-disk file, window sampling, import/export and checks."""
