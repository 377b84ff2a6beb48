"""``python -m kg._pusher ARGS``: ``kg ARGS`` for the detached pusher, started without the driver's optional imports."""
import sys

# The Neo4j driver imports numpy, pandas and pyarrow when they are installed, for result
# conversions a pusher never makes (it sends plain rows read from the outbox): 0.25 s of its
# start-up on this project's machine, while the captured tasks wait for it. Marked absent,
# their imports raise ImportError, which the driver (and kg) treat as "not installed".
for _name in ("numpy", "pandas", "pyarrow"):
    sys.modules.setdefault(_name, None)  # type: ignore[arg-type]

from kg.cli import main  # noqa: E402

main()
