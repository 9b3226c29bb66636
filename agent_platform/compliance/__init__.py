"""EU data-residency decisions shared by the router (at request time) and the CLI checker."""
