# Helpers for the collector's audit file (OTLP/JSON, one export request per line; run with -s).
# Flattens every log record to {resource: {...}, attrs: {...}} with plain values.
def kv: reduce .[]? as $a ({}; . + {($a.key): ($a.value | to_entries[0].value)});
def records:
  [ .[] | .resourceLogs[]? | (.resource.attributes | kv) as $resource
    | .scopeLogs[]?.logRecords[]? | {resource: $resource, attrs: (.attributes | kv)} ];
def event($name): map(select(.attrs["event.name"] == $name));
