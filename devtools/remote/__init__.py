"""TODO: module map."""
