"""The registry alias names: training moves them, serving follows them, devtools promotes between them."""

from __future__ import annotations

# The alias serving answers with and `train --promote auto|always` moves.
CHAMPION = "champion"
# The alias `train --promote challenger` sets; serving compares its version with the champion's on live
# traffic, and `devtools promote` moves CHAMPION to it.
CHALLENGER = "challenger"
