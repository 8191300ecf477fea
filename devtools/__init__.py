"""devtools: the command line for the ML dev stack (MLflow, training, serving) on Docker Compose."""

__version__ = "0.1.0"
