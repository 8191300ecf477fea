"""JupyterLab next to the stack, from the training image.

lab.py       start the server (the URL with its token), stop it, run one notebook headless
runner.py    what runs inside the one-off container to execute a notebook (nbclient), one line
             per cell and an exit code devtools maps to its own
"""
