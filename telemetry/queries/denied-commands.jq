# Commands the rules forbade, and tool calls a user or the auto-reviewer denied.
#   jq -s -L telemetry/queries -f telemetry/queries/denied-commands.jq /var/log/codex/audit.jsonl
include "lib";
records as $all
| ($all | event("codex.execpolicy.decision") | map(select(.attrs.decision == "forbidden"))
   | map({command: .attrs.command, rules: .attrs.matched_rules, team: .resource.team,
          conversation: .attrs["conversation.id"]}))
  as $forbidden
| ($all | event("codex.tool_decision")
   | map(select(.attrs.decision == "denied" or .attrs.decision == "abort"))
   | map({tool: .attrs.tool_name, call_id: .attrs.call_id, source: .attrs.source,
          conversation: .attrs["conversation.id"]}))
  as $denied
| {forbidden_by_rules: $forbidden, denied_tool_calls: $denied}
