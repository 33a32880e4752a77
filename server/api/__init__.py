"""The HTTP API: one module per resource, all mounted under ``/api`` behind bearer auth."""
