"""The Docker engine as devtools sees it: one owner for its facts and every call to it.

    facts.py      what the engine is (CLI, daemon, Compose, endpoint, local or remote), each fact asked
                  once per run
    api.py        the Docker SDK for the watcher's many small calls, reached as the CLI reaches the
                  engine, its errors mapped like the CLI's
    inspect.py    `docker inspect` read into typed values (ImageFacts, ContainerFacts)
    diagnose.py   why a container is not up, in one line
    ssh.py        an ssh:// engine address, as the ssh program takes it

What docker's stderr means and how to fix it (devtools.stderr, devtools.fixes) sits below the process
choke point (devtools.proc), which every call here goes through.
"""
