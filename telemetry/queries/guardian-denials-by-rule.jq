# Auto-reviewer (guardian) denials per deciding rule ("model" when the model tier decided).
#   jq -s -L telemetry/queries -f telemetry/queries/guardian-denials-by-rule.jq /var/log/codex/audit.jsonl
include "lib";
records
| event("codex.guardian.review")
| map(select(.attrs.decision == "denied"))
| group_by(.attrs["guardian.rule"] // "model")
| map({rule: (.[0].attrs["guardian.rule"] // "model"), denials: length})
| sort_by(-.denials, .rule)
