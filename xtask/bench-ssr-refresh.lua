-- wrk script: GET /notes with nothing but a never-used refresh cookie on every request, so the
-- server must refresh while it renders the page (CONTRACT §7). Tokens from TOKENS_FILE, one a
-- line; thread i of WRK_THREADS uses lines i, i+N… A thread that runs out stops (a warning says so).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local tokens, n, used = {}, 0, 0

function init(args)
  local path = os.getenv("TOKENS_FILE") or error("TOKENS_FILE not set")
  local nthreads, i = tonumber(os.getenv("WRK_THREADS") or "1"), 0
  for line in io.lines(path) do
    if line ~= "" then
      if i % nthreads == id then n = n + 1; tokens[n] = line end
      i = i + 1
    end
  end
  wrk.thread:set("have", n)
end

function request()
  if used >= n then
    wrk.thread:set("exhausted", 1)
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  used = used + 1
  wrk.thread:set("used", used)
  return wrk.format("GET", "/notes", { ["Cookie"] = "refresh_token=" .. tokens[used] })
end

function done(summary, latency, requests)
  local used_total, have_total, exhausted = 0, 0, false
  for _, t in ipairs(threads) do
    used_total = used_total + (t:get("used") or 0)
    have_total = have_total + (t:get("have") or 0)
    if t:get("exhausted") then exhausted = true end
  end
  io.write(string.format("refresh tokens used: %d of %d\n", used_total, have_total))
  if exhausted then io.write("WARNING: refresh tokens exhausted; run stopped early\n") end
end
