-- wrk script: POST agent messages, rotating over 64 senders so load spreads over partitions.
local counter = 0
local hash = os.getenv("ACGS_BENCH_HASH") or "cdd01ef066bc6cf2"
local content = string.rep("x", tonumber(os.getenv("ACGS_BENCH_CONTENT") or "200"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local agent = counter % 64
  local body = string.format(
    '{"from_agent":"bench-s%d","to_agent":"bench-r%d","tenant_id":"bench","message_type":"command",' ..
    '"priority":"normal","content":"%s","constitutional_hash":"%s"}', agent, agent, content, hash)
  return wrk.format(nil, nil, nil, body)
end
