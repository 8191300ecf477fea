"""The stack devtools drives: one owner for its Compose files, variants and what runs in them.

    project.py      ComposeProject: root, project name, variant (dev / prod), GPU override, env;
                    the ordered -f files derive from those fields, and every compose call goes
                    through its argv (so `--gpu` changes one field, `dataclasses.replace`)
    config.py       ComposeConfig: the merged configuration Compose resolves (services, URLs, ports)
    graph.py        dependency and build-base closures over the config
    build_state.py  content fingerprints of build inputs: which images are stale
    start.py        build what is stale, `up --wait`, the URLs to print
    images.py       dev and prod image builds (tags, platforms, OCI labels)
    gpu.py          the GPU policy of `up --gpu` / `train --gpus`: detection -> override or error
    jobs.py         running a command in a service (exec into it, or a one-off container)

Policy here returns values and raises DevtoolsError; commands (devtools.commands) print. Nothing is
imported in this file, so a command's --help pays only for what it uses.
"""
