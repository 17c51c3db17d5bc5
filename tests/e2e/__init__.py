"""End-to-end tests: the whole pipeline over HTTP through the local stand-ins."""
