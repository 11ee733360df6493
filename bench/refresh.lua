-- wrk script: refresh-token grants, each connection chaining its own
-- refresh-token family (a refresh token is single-use: every response
-- carries the next one). Run with as many threads as connections (-tN -cN).
-- Env: CLIENT_ID, REFRESH_TOKENS (space-separated, at least N).
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("idx", counter)
  table.insert(threads, thread)
end

function init(args)
  local toks = {}
  for t in string.gmatch(os.getenv("REFRESH_TOKENS") or "", "%S+") do
    table.insert(toks, t)
  end
  rt = toks[idx]
  client = os.getenv("CLIENT_ID")
  failures = 0
end

function request()
  return wrk.format("POST", "/token",
    { ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&client_id=" .. client .. "&refresh_token=" .. rt)
end

function response(status, headers, body)
  if status == 200 then
    local n = string.match(body, '"refresh_token":"([^"]+)"')
    if n then rt = n else failures = failures + 1 end
  else
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local f = 0
  for _, t in ipairs(threads) do f = f + t:get("failures") end
  io.write(string.format("refresh failures: %d\n", f))
end
