"""Fail loudly (exit 1) when the test PostgreSQL cannot be reached: CI never skips it."""

import asyncio
import sys

import asyncpg


async def main(url: str) -> int:
    try:
        connection = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL at {url} is not reachable: {exc}", file=sys.stderr)
        return 1
    version = await connection.fetchval("SHOW server_version")
    await connection.close()
    print(f"PostgreSQL {version} at {url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1])))
