//! Lambda payloads as the runtime hands them over: bytes decoded as JSON, sorted by
//! `lambda::classify`, and answered by `lambda::handle` through the real Router (whose
//! Elasticsearch is a closed loopback port, so nothing waits on a search).
//! Nothing may panic (outside lambda_http, whose panics `handle` answers 400), and every
//! invocation must be answered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wx_stats_fuzz::{assert_invocation_answered, let_lambda_http_panics_unwind};

fuzz_target!(init: let_lambda_http_panics_unwind(), |data: &[u8]| {
    // The runtime refuses a payload that is not JSON before the handler sees it.
    if let Ok(payload) = serde_json::from_slice(data) {
        assert_invocation_answered(payload);
    }
});
