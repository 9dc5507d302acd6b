-- wrk script for series (a): the original query POSTed straight to Elasticsearch
-- (wrk -s tests/bench/post.lua http://127.0.0.1:PORT/wx-rtbeat-*/_search).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"size":0,"aggs":{"temps":{"histogram":{"field":"rxtxMsg.payload.currently.temperature","interval":2}}},"query":{"range":{"@timestamp":{"gt":"now-24h"}}}}'

-- The same BENCH line as the GET series: report.lua, beside this file, defines done().
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
