#!/usr/bin/env python3
"""Sum meson's testlog.json files into the suite's closing line:
"N passed, N failed[, N skipped]". Exit status 1 when anything failed or no
test ran at all."""
import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
                print("FAILED:", json.loads(line).get("name"), result, file=sys.stderr)

tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
sys.exit(1 if failed or passed == 0 else 0)
