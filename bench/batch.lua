-- wrk script: POST a batch of BATCH_SIZE noop jobs per request with the bench key.
local size = tonumber(os.getenv("BATCH_SIZE") or "1000")
local jobs = {}
for i = 1, size do
  jobs[i] = '{"kind":"noop"}'
end
wrk.method = "POST"
wrk.body = '{"jobs":[' .. table.concat(jobs, ",") .. ']}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("MIXDOWN_BENCH_KEY")
