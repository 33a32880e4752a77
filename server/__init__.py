"""reelay's web process and the domain that web and workers share."""
