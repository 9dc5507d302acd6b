-- wrk script for series (a): the original query POSTed straight to Elasticsearch
-- (wrk -s tests/bench/post.lua http://127.0.0.1:PORT/wx-rtbeat-*/_search).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"size":0,"aggs":{"temps":{"histogram":{"field":"rxtxMsg.payload.currently.temperature","interval":2}}},"query":{"range":{"@timestamp":{"gt":"now-24h"}}}}'

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.2f p50_us=%d p99_us=%d status_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
