#!/usr/bin/env bash
# The cluster demo: builds the project, then starts a Flink standalone session cluster on this
# machine (a JobManager and two TaskManagers, each its own JVM, from the project's classpath),
# runs the event-counter job with zstate, kills a TaskManager after a checkpoint and shows the
# job recover with a correct result. See docs/cluster.md.
#
#   scripts/cluster-demo.sh                 # defaults: 600,000 events over 20,000 keys at 20,000/s
#   scripts/cluster-demo.sh --keep          # keep the run directory (config.yaml, logs, checkpoints)
#   scripts/cluster-demo.sh -h              # every option
#
# Arguments go to the demo as they are; they must not contain spaces.
set -euo pipefail
cd "$(dirname "$0")/.."
# from the root, so the reactor builds allocator and statebackend before jobs
exec mvn -q -DskipTests -Pcluster verify -Dcluster.args="$*"
