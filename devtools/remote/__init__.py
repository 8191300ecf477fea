"""Where the engine runs: this machine's, or another machine's over SSH.

site.py      one object for either (LocalSite does nothing extra; RemoteSite mirrors, forwards and
             syncs); the start path, the watcher, doctor, ps and down ask it, never a remote flag
mirror.py    the source into the remote's volumes at `up`, and each change after (Syncer)
tunnel.py    one SSH tunnel per project: the stack's ports and the remote engine's socket, here
"""
