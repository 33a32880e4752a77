"""``reelay`` sub-commands that belong to the web side (see ``server.cli``)."""
