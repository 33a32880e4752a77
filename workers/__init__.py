"""reelay's background processes: Dramatiq actors and the PyAV render engine."""
