-- wrk script: POST one noop job per request with the bench key.
wrk.method = "POST"
wrk.body = '{"kind":"noop"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("MIXDOWN_BENCH_KEY")
