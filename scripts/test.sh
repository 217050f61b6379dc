#!/usr/bin/env bash
# The test command (`npm test`): prerequisites, then every suite through tap.
# Extra arguments go to tap, e.g. `npm test -- proto/test/codec.test.ts`.
set -u
cd "$(dirname "$0")/.."
bash scripts/test-prereqs.sh
exec npx tap "$@"
