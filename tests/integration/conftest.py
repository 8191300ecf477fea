"""The integration tier: no Docker engine, but real processes and servers where a unit test would
replace them: training jobs launched as torch's launcher launches them (DDP over Gloo, torchrun, several
nodes, signals), the GPU check script end to end on CPU, a notebook in a real kernel. Slower than the
unit tier (minutes), so it runs after it; faster than the Docker tier, so before it."""
