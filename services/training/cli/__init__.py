"""`python -m training`'s command line, apart from the entry point (training/__main__.py): the parser
(`parser`) and its argument types (`arguments`), the AWS Batch multi-node defaults (`batch`), the three
commands (`commands`), and the failure protocol every command runs under (`failures`).

Standard library only at import: `--help` and a bad flag must not wait for numpy, torch or mlflow.
"""
