"""Print the README walkthrough's commands as one bash script, for scripts/fresh_clone_check.sh.

The commands are those of the ``sh`` blocks between the README's ``<!-- walkthrough`` and
``<!-- walkthrough: end -->`` markers, exactly as a newcomer copies them, with two changes: the
server's address is the check's free port, and each ``user create`` gets the password on standard
input (a newcomer types it). So the walkthrough cannot drift from what the product does.

    python3 scripts/readme_walkthrough.py README.md PORT > walkthrough.sh
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def commands(readme: str) -> list[str]:
    start = readme.index("<!-- walkthrough")
    end = readme.index("<!-- walkthrough: end -->")
    blocks = re.findall(r"```sh\n(.*?)```", readme[start:end], flags=re.DOTALL)
    result: list[str] = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)  # backslash continuations
        result.extend(line.strip() for line in joined.splitlines() if line.strip())
    return result


def script(readme: str, port: int) -> str:
    lines = ["set -euxo pipefail"]
    for command in commands(readme):
        command = command.replace("localhost:8000", f"127.0.0.1:{port}")
        if " user create " in command:
            command = f'printf "%s\\n" "$SIGAP_WALKTHROUGH_PASSWORD" | {command}'
        lines.append(command)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(script(Path(sys.argv[1]).read_text(encoding="utf-8"), int(sys.argv[2])))
