"""One module per `devtools` command: each parses its options and calls one typed function."""
