# Blocked network requests per host (most blocked first).
#   jq -s -L telemetry/queries -f telemetry/queries/blocked-hosts.jq /var/log/codex/audit.jsonl
include "lib";
records
| event("codex.network_proxy.policy_decision")
| map(select(.attrs["network.policy.decision"] == "deny"))
| group_by(.attrs["server.address"])
| map({host: .[0].attrs["server.address"], blocked: length,
       reasons: (map(.attrs["network.policy.reason"]) | unique)})
| sort_by(-.blocked, .host)
