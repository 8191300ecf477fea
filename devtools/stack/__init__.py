"""The Compose project devtools drives, and nothing else: its files, variants, configuration and images.

    project.py      ComposeProject: root, project name, variant (dev / prod / a deploy target's rendered
                    file), GPU and remote overrides, env;
                    the ordered -f files derive from those fields, and every compose call goes
                    through its argv (so `--gpu` changes one field, `dataclasses.replace`)
    config.py       ComposeConfig: the merged configuration Compose resolves (services, URLs, ports)
    graph.py        dependency and build-base closures over the config
    build_state.py  content fingerprints of build inputs: which images are stale
    build_progress.py  one progress line per image from Compose's JSON build output
    start.py        bring stale images up to date (an ImageSource or a build), start through a Site,
                    wait for healthchecks, the URLs as this machine reaches them
    images.py       dev and prod image builds (tags, platforms, OCI labels)
    gpu.py          the GPU policy of `up --gpu` / `train --gpus`: detection -> override or error

Policy here returns values and raises DevtoolsError; commands (devtools.commands) print. Nothing is
imported in this file, so a command's --help pays only for what it uses.
"""
