"""Framework-independent parts of the recorders: schema, statistics, writers, writer thread."""
