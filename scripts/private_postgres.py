"""``./test``'s PostgreSQL when none is given and none answers on 127.0.0.1:5432: a private,
throw-away cluster made by the same code as the fault tests' (tests/pgcluster.py).

    python scripts/private_postgres.py start        # prints "<admin URL> <directory>"
    python scripts/private_postgres.py stop <directory>
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.pgcluster import PgCluster


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        cluster = PgCluster()
        cluster.start()
        print(cluster.admin_url, cluster.root)
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        cluster = PgCluster()
        cluster.root = Path(argv[1])
        cluster.cleanup()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
