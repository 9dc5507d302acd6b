//! What one call carries to Elasticsearch besides its question: who asked, so that
//! Elasticsearch's slow log and `_tasks` can name the caller and a trace goes on past the door,
//! and when the platform gives up on the call, so that our 504 arrives before the platform's.
//!
//! The HTTP layer fills it from the request's headers and its platform; the rules for what a
//! caller may send live here.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Who asked, and until when.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallContext {
    /// The call's request id, sent to Elasticsearch as `X-Opaque-Id`; empty sends none.
    pub request_id: String,
    /// A W3C `traceparent`, passed on to Elasticsearch.
    pub traceparent: Option<String>,
    /// Its `tracestate`, passed on with it.
    pub tracestate: Option<String>,
    /// When the platform gives up on the call (Lambda's deadline, Kubeless's `FUNC_TIMEOUT`).
    pub deadline: Option<Instant>,
}

/// What the Elasticsearch call leaves for the rest: rendering the answer and handing it back.
pub(crate) const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

impl CallContext {
    /// The Elasticsearch call's timeout: the least of `limit` (`ES_TIMEOUT`) and the time the
    /// platform leaves, minus `DEADLINE_MARGIN`.
    pub fn timeout(&self, limit: Duration) -> Duration {
        match self.deadline {
            Some(deadline) => deadline
                .saturating_duration_since(Instant::now())
                .saturating_sub(DEADLINE_MARGIN)
                .min(limit),
            None => limit,
        }
    }

    /// This call, given at most `limit` from now for all its searches together: the first
    /// gets all of it, each later one what is left. (A call that must learn a field's range
    /// before its histogram searches twice, and `ES_TIMEOUT` bounds them both.)
    pub fn within(&self, limit: Duration) -> CallContext {
        let ours = Instant::now() + limit + DEADLINE_MARGIN;
        CallContext {
            deadline: Some(self.deadline.map_or(ours, |deadline| deadline.min(ours))),
            ..self.clone()
        }
    }
}

/// A new id, shaped as a version-4 UUID, for a call that brought none (and for reply events).
///
/// Its bits come from the process's id, the moment the process made its first id and a
/// counter, mixed by SplitMix64, rather than from the operating system's randomness: the doors
/// run in empty roots and `FROM scratch` images with no `/dev/urandom`, where asking for random
/// bytes fails. Ids are unique within a process by the counter, and across processes by the
/// seed; they are names, not secrets.
pub(crate) fn new_id() -> String {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
        let nanos = since_epoch.map_or(0, |d| d.as_nanos() as u64);
        splitmix64(nanos ^ u64::from(std::process::id()).rotate_left(32))
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = splitmix64(seed.wrapping_add(count));
    let low = splitmix64(high ^ seed.rotate_left(17));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// One step of SplitMix64: a bijection that spreads consecutive inputs over all 64 bits.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A request id worth echoing and passing on: 1 to 128 characters, letters, digits and
/// `-_.:/+=@` (UUIDs, ULIDs, AWS request ids and base64 all fit). Anything else is ignored.
pub(crate) fn sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

/// A W3C `traceparent` of version 00: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`,
/// lowercase, with neither id all zeros.
pub(crate) fn sane_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let not_zero = |s: &str| s.bytes().any(|b| b != b'0');
    matches!(parts.as_slice(), [version, trace, parent, flags]
        if *version == "00" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2)
            && not_zero(trace) && not_zero(parent))
}

/// A `tracestate` to pass on with its `traceparent`: at most 512 visible ASCII characters.
pub(crate) fn sane_tracestate(value: &str) -> bool {
    value.len() <= 512 && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// The `traceparent` an AWS X-Ray trace header stands for, e.g.
/// `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1` →
/// `00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01`.
pub(crate) fn traceparent_from_xray(header: &str) -> Option<String> {
    let field = |name: &str| {
        header
            .split(';')
            .find_map(|part| part.trim().strip_prefix(name)?.strip_prefix('='))
    };
    let trace = field("Root")?.strip_prefix("1-")?.replace('-', "");
    let sampled = if field("Sampled") == Some("1") {
        "01"
    } else {
        "00"
    };
    let traceparent = format!("00-{trace}-{}-{sampled}", field("Parent")?);
    sane_traceparent(&traceparent).then_some(traceparent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_distinct_version_4_uuids_that_pass_the_check() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let uuid = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(uuid.get_version_num(), 4, "{id}");
            assert!(sane_request_id(id), "{id}");
        }
    }

    #[test]
    fn request_ids_are_checked() {
        for good in ["abc-123", "1-67a8b9c0-0123456789abcdef01234567", "YWJj+/=="] {
            assert!(sane_request_id(good), "{good}");
        }
        let long = "a".repeat(129);
        for bad in ["", "a b", "a\"b", "é", "<script>", long.as_str()] {
            assert!(!sane_request_id(bad), "{bad}");
        }
    }

    #[test]
    fn traceparents_are_checked() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(sane_traceparent(good));
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "garbage",
        ] {
            assert!(!sane_traceparent(bad), "{bad}");
        }
        assert!(sane_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
        assert!(!sane_tracestate(&"x".repeat(513)));
        assert!(!sane_tracestate("a=\u{7f}"));
    }

    #[test]
    fn xray_trace_headers_become_traceparents() {
        let xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(
            traceparent_from_xray(xray).as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
        );
        assert_eq!(traceparent_from_xray("Root=1-5759e988-bd86;Parent=x"), None);
        assert_eq!(traceparent_from_xray(""), None);
    }

    #[test]
    fn the_timeout_is_the_least_of_the_limit_and_the_time_left() {
        let limit = Duration::from_secs(20);
        assert_eq!(CallContext::default().timeout(limit), limit);
        let soon = CallContext {
            deadline: Some(Instant::now() + Duration::from_secs(2)),
            ..CallContext::default()
        };
        let timeout = soon.timeout(limit);
        assert!(timeout <= Duration::from_millis(1750) && timeout > Duration::from_millis(1500));
        let gone = CallContext {
            deadline: Some(Instant::now()),
            ..CallContext::default()
        };
        assert_eq!(gone.timeout(limit), Duration::ZERO);
    }
}
