"""The challenger on live traffic: the facade requests meet (`live`), canary routing (`router`), the
shadow thread and its queue (`shadow`), the figures of one pair of versions (`comparison`) and their
logging on the challenger's MLflow run (`comparison_log`)."""
