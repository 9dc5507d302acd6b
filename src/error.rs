//! The one error type of wx-stats, and its JSON shape.
//!
//! Every failure, whichever door it happens behind, is reported as
//! `{"error":{"type":"…","reason":"…"},"status":N}`, modelled on Elasticsearch's own errors so
//! that a client which already understands Elasticsearch understands us too.
//!
//! An error is told twice. Its `Display` text is the operator's: it names the Elasticsearch
//! address, which credentials were refused and what Elasticsearch said, and goes to the log
//! line of the call that failed. [`Error::reason`] is the client's: it says whose fault the
//! failure is, and names nothing of the service's own (no host, user, role, allow-list or an
//! upstream's error page), since every door is public.

use std::time::Duration;

use serde_json::{Value, json};

/// Everything that can go wrong between a request and its answer.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// A configuration variable is missing or malformed; start-up stops with this message.
    #[error("{variable}: {reason}")]
    Config {
        /// The environment variable at fault, e.g. `ES_TIMEOUT`.
        variable: &'static str,
        /// What was wrong with it (never its value when the value is a secret).
        reason: String,
    },
    /// A request parameter is unknown or has a bad value.
    #[error("parameter `{parameter}`: {reason}")]
    BadRequest {
        /// The parameter at fault, e.g. `hours`.
        parameter: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The request carries a CloudEvent that is malformed or unsupported.
    #[error("malformed CloudEvent: {0}")]
    BadEvent(String),
    /// The request body is larger than the limit (bytes).
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// A precondition failed (RFC 9110, 13.1): an `If-Match` that does not name the answer, or
    /// an `If-None-Match` that does on a request other than GET or HEAD. Says which.
    #[error("{0}")]
    PreconditionFailed(&'static str),
    /// The request's body did not arrive whole within the limit (`BODY_READ_TIMEOUT`).
    #[error("the request body did not arrive within {}", humanize(*.0))]
    BodyTimeout(Duration),
    /// The method is not one the path answers.
    #[error("method {0} is not allowed on this path; the Allow header lists those that are")]
    MethodNotAllowed(String),
    /// The function ran longer than its platform allows (Kubeless's `FUNC_TIMEOUT`).
    #[error("the function did not finish within {}", humanize(*.0))]
    FunctionTimeout(Duration),
    /// As many calls as `MAX_IN_FLIGHT` allows were already in progress, so this one was
    /// refused at once rather than queued.
    #[error("MAX_IN_FLIGHT={0} calls are already in progress; try again shortly")]
    Overloaded(usize),
    /// Elasticsearch could not be reached at all (refused, reset, name not resolved), or
    /// answered 503 or 429 itself (starting, recovering, overloaded).
    #[error("cannot reach Elasticsearch at {host}: {reason}")]
    Unavailable {
        /// The Elasticsearch address, without credentials.
        host: String,
        /// The transport's own description of the failure, or Elasticsearch's.
        reason: String,
        /// The status Elasticsearch answered with, when it answered at all.
        answered: Option<u16>,
    },
    /// The TLS handshake with Elasticsearch failed, most often because its certificate could
    /// not be verified.
    #[error("TLS with Elasticsearch at {host} failed: {reason}")]
    Tls {
        /// The Elasticsearch address, without credentials.
        host: String,
        /// What failed, e.g. "certificate verification failed: …".
        reason: String,
    },
    /// Elasticsearch, or a proxy in front of it, answered 401 (the credentials were refused)
    /// or 403 (they may not run the search).
    #[error("Elasticsearch at {host} refused the search ({status}): {reason}")]
    Refused {
        /// The Elasticsearch address, without credentials.
        host: String,
        /// 401 or 403.
        status: u16,
        /// Which credentials were refused, by their variables, and Elasticsearch's own reason
        /// when it gave one; never the credentials themselves.
        reason: String,
    },
    /// Elasticsearch did not answer within `ES_TIMEOUT`.
    #[error("Elasticsearch at {host} did not answer within {}", humanize(*.timeout))]
    Timeout {
        /// The Elasticsearch address, without credentials.
        host: String,
        /// The limit that was exceeded.
        timeout: Duration,
    },
    /// The index searched does not exist.
    #[error("{reason}")]
    IndexNotFound {
        /// Elasticsearch's reason, naming the index.
        reason: String,
        /// The index, when the caller named it with the `index` parameter: the only index a
        /// client is told of.
        requested: Option<String>,
    },
    /// Elasticsearch answered, but every shard's search failed.
    #[error("Elasticsearch could not search any shard: {detail}")]
    AllShardsFailed {
        /// How many shards failed, and the first failure's type.
        summary: String,
        /// The same, with the first failure's index and Elasticsearch's reason.
        detail: String,
    },
    /// Elasticsearch answered with an error status; its own `type` and `reason` are kept.
    #[error("Elasticsearch answered {status}: {es_type}: {reason}")]
    Elasticsearch {
        /// The HTTP status Elasticsearch answered with.
        status: u16,
        /// Elasticsearch's error type, e.g. `illegal_argument_exception`.
        es_type: String,
        /// Elasticsearch's reason, from the root cause when it has one.
        reason: String,
    },
    /// Something that should not happen did (a bug, or a response we cannot read).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest { .. } | Error::BadEvent(_) => 400,
            Error::MethodNotAllowed(_) => 405,
            Error::IndexNotFound { .. } => 404,
            Error::TooLarge(_) => 413,
            Error::PreconditionFailed(_) => 412,
            Error::FunctionTimeout(_) | Error::BodyTimeout(_) => 408,
            Error::Unavailable { .. } | Error::Overloaded(_) => 503,
            Error::Timeout { .. } => 504,
            // The query we sent was refused or failed upstream: we are a gateway, so 502.
            Error::Elasticsearch { .. }
            | Error::AllShardsFailed { .. }
            | Error::Tls { .. }
            | Error::Refused { .. } => 502,
            Error::Config { .. } | Error::Internal(_) => 500,
        }
    }

    /// The error's `type`, in Elasticsearch's snake_case style.
    pub fn error_type(&self) -> &str {
        match self {
            Error::Config { .. } => "configuration_error",
            Error::BadRequest { .. } => "invalid_parameter",
            Error::BadEvent(_) => "invalid_cloudevent",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::IndexNotFound { .. } => "index_not_found",
            Error::AllShardsFailed { .. } => "all_shards_failed",
            Error::TooLarge(_) => "request_too_large",
            Error::PreconditionFailed(_) => "precondition_failed",
            Error::FunctionTimeout(_) => "function_timeout",
            Error::BodyTimeout(_) => "body_timeout",
            Error::Overloaded(_) => "overloaded",
            Error::Unavailable { .. } => "elasticsearch_unavailable",
            Error::Timeout { .. } => "elasticsearch_timeout",
            Error::Tls { .. } => "elasticsearch_tls_error",
            Error::Refused { .. } => "elasticsearch_refused",
            Error::Elasticsearch { es_type, .. } => es_type,
            Error::Internal(_) => "internal_error",
        }
    }

    /// What the client is told: whose fault the failure is, and for a caller's own mistake
    /// what to change. Where the `Display` text would name the service's insides (its
    /// Elasticsearch's address, credentials, indices, or Elasticsearch's own words, which can
    /// name users, roles, indices and nodes), a plain sentence stands in; the log line of the
    /// call keeps the whole text.
    pub fn reason(&self) -> String {
        match self {
            Error::Unavailable { answered: None, .. } => "cannot reach Elasticsearch".into(),
            Error::Unavailable {
                answered: Some(status),
                ..
            } => format!("Elasticsearch cannot serve the search now (it answered {status})"),
            Error::Tls { .. } => "TLS with Elasticsearch failed".into(),
            Error::Refused { status: 401, .. } => {
                "Elasticsearch refused the service's credentials (401)".into()
            }
            Error::Refused { status, .. } => {
                format!(
                    "Elasticsearch does not allow the service's credentials this search ({status})"
                )
            }
            Error::Timeout { timeout, .. } => {
                format!("Elasticsearch did not answer within {}", humanize(*timeout))
            }
            Error::IndexNotFound {
                requested: Some(index),
                ..
            } => format!("no such index [{index}]"),
            Error::IndexNotFound {
                requested: None, ..
            } => "the index this service searches does not exist".into(),
            Error::AllShardsFailed { summary, .. } => {
                format!("Elasticsearch could not search any shard: {summary}")
            }
            // The type stays: it is Elasticsearch's class of error, not its text.
            Error::Elasticsearch { status, .. } if *status < 500 => {
                format!("Elasticsearch refused the service's search ({status})")
            }
            Error::Elasticsearch { status, .. } => {
                format!("Elasticsearch failed the search ({status})")
            }
            Error::Internal(_) => {
                "internal error; the service's log has it under this call's request id".into()
            }
            Error::Config { .. } => "the service is not configured correctly".into(),
            // The caller's own doing, or the service's limits: the whole text helps them.
            Error::BadRequest { .. }
            | Error::BadEvent(_)
            | Error::TooLarge(_)
            | Error::PreconditionFailed(_)
            | Error::MethodNotAllowed(_)
            | Error::FunctionTimeout(_)
            | Error::BodyTimeout(_)
            | Error::Overloaded(_) => self.to_string(),
        }
    }

    /// Whether the failure goes in the log, with its whole text, under the call's request id:
    /// every failure of the service's own (5xx) but a shed call, which is counted and has its
    /// `call` line (a warning for each would flood the log just when the process is busiest);
    /// and a missing index the caller did not name, which is the configuration's fault.
    pub(crate) fn is_logged(&self) -> bool {
        match self {
            Error::Overloaded(_) => false,
            Error::IndexNotFound { requested, .. } => requested.is_none(),
            _ => self.status() >= 500,
        }
    }

    /// The JSON body: `{"error":{"type":"…","reason":"…"},"status":N}`, with the client's
    /// [`Error::reason`].
    pub fn to_json(&self) -> Value {
        json!({
            "error": { "type": self.error_type(), "reason": self.reason() },
            "status": self.status(),
        })
    }

    /// Shorthand for an [`Error::Config`]: the variable at fault and what is wrong with it.
    pub fn config(variable: &'static str, reason: impl Into<String>) -> Self {
        Error::Config {
            variable,
            reason: reason.into(),
        }
    }

    /// Shorthand for a [`Error::BadRequest`].
    pub fn bad_request(parameter: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::BadRequest {
            parameter: parameter.into(),
            reason: reason.into(),
        }
    }
}

/// `20s`, `1500ms`: the same spelling `ES_TIMEOUT` accepts.
pub(crate) fn humanize(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the service knows and a client must not learn, in every variant that carries it.
    const HOST: &str = "https://es-internal.example:9243";
    const ES_TEXT: &str = "action [indices:data/read/search] is unauthorized for user [wx-reader] \
                           with effective roles [wx-role] on indices [wx-private]";

    fn all_variants() -> Vec<Error> {
        vec![
            Error::Config {
                variable: "ES_TIMEOUT",
                reason: "bad".into(),
            },
            Error::bad_request("hours", "must be a whole number"),
            Error::BadEvent("no id".into()),
            Error::MethodNotAllowed("PUT".into()),
            Error::TooLarge(65536),
            Error::PreconditionFailed("If-Match does not name this answer"),
            Error::FunctionTimeout(Duration::from_secs(1)),
            Error::Unavailable {
                host: HOST.into(),
                reason: "Connection refused (os error 111)".into(),
                answered: None,
            },
            Error::Timeout {
                host: HOST.into(),
                timeout: Duration::from_millis(1500),
            },
            Error::Tls {
                host: HOST.into(),
                reason: "certificate verification failed: set ES_CA_CERT".into(),
            },
            Error::Refused {
                host: HOST.into(),
                status: 401,
                reason: "the user name and password (ES_USERNAME, ES_PASSWORD) were refused".into(),
            },
            Error::Elasticsearch {
                status: 400,
                es_type: "illegal_argument_exception".into(),
                reason: ES_TEXT.into(),
            },
            Error::Internal("cannot read Elasticsearch's search response: wx-private".into()),
            Error::IndexNotFound {
                reason: "no such index [wx-private]".into(),
                requested: None,
            },
            Error::AllShardsFailed {
                summary: "2 of 2 shards failed (security_exception)".into(),
                detail: format!("2 of 2 shards failed (index wx-private: {ES_TEXT})"),
            },
            Error::Overloaded(4),
            Error::Refused {
                host: HOST.into(),
                status: 403,
                reason: format!(
                    "ES_USERNAME may not run this search; Elasticsearch says: {ES_TEXT}"
                ),
            },
            Error::Unavailable {
                host: HOST.into(),
                reason: "it answered 429: es_rejected_execution_exception: node-7".into(),
                answered: Some(429),
            },
            Error::BodyTimeout(Duration::from_secs(10)),
        ]
    }

    #[test]
    fn every_variant_has_the_one_json_shape() {
        for error in all_variants() {
            let body = error.to_json();
            assert_eq!(body["status"], error.status(), "{error:?}");
            assert_eq!(body["error"]["type"], error.error_type(), "{error:?}");
            assert_eq!(body["error"]["reason"], error.reason(), "{error:?}");
            assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{error:?}");
        }
    }

    #[test]
    fn statuses_follow_the_failure() {
        let statuses: Vec<u16> = all_variants().iter().map(Error::status).collect();
        assert_eq!(
            statuses,
            [
                500, 400, 400, 405, 413, 412, 408, 503, 504, 502, 502, 502, 500, 404, 502, 503,
                502, 503, 408
            ]
        );
    }

    #[test]
    fn a_client_learns_whose_fault_it_is_and_nothing_of_the_services_insides() {
        let insides = [
            "es-internal",
            "9243",
            "wx-reader",
            "wx-role",
            "wx-private",
            "ES_PASSWORD",
            "ES_CA_CERT",
            "unauthorized",
            "node-7",
        ];
        for error in all_variants() {
            let body = error.to_json().to_string();
            for inside in insides {
                assert!(!body.contains(inside), "{inside} in {body}");
            }
        }
        let reasons: Vec<String> = all_variants()[7..12].iter().map(Error::reason).collect();
        assert_eq!(
            reasons,
            [
                "cannot reach Elasticsearch",
                "Elasticsearch did not answer within 1500ms",
                "TLS with Elasticsearch failed",
                "Elasticsearch refused the service's credentials (401)",
                "Elasticsearch refused the service's search (400)",
            ]
        );
    }

    #[test]
    fn the_log_keeps_what_the_client_is_not_told() {
        // Unreachable, slow, TLS, refused (401 and 403), busy: each logged line names the host.
        let variants = all_variants();
        for error in [7, 8, 9, 10, 16, 17].map(|at| &variants[at]) {
            assert!(error.is_logged(), "{error}");
            assert!(error.to_string().contains(HOST), "{error}");
        }
        // Elasticsearch's own words, for the rejection, the failed shards and the 403.
        for error in [11, 14, 16].map(|at| &variants[at]) {
            assert!(error.is_logged(), "{error}");
            assert!(error.to_string().contains(ES_TEXT), "{error}");
        }
        assert_eq!(variants[16].error_type(), "elasticsearch_refused");
        assert_eq!(variants[10].error_type(), "elasticsearch_refused");
        assert!(
            !Error::Overloaded(4).is_logged(),
            "a shed call has its call line"
        );
        assert!(
            !Error::bad_request("hours", "no").is_logged(),
            "the caller's mistake"
        );
    }

    #[test]
    fn only_the_callers_own_index_is_named() {
        let missing = |requested: Option<&str>| Error::IndexNotFound {
            reason: "no such index [wx-rtbeat-2099.01]".into(),
            requested: requested.map(str::to_string),
        };
        let asked = missing(Some("wx-rtbeat-2099.01"));
        assert_eq!(asked.reason(), "no such index [wx-rtbeat-2099.01]");
        assert!(!asked.is_logged(), "the caller's own mistake");
        let configured = missing(None);
        assert!(!configured.reason().contains("wx-rtbeat"));
        assert!(configured.is_logged(), "the configuration's mistake");
    }

    #[test]
    fn a_callers_mistake_keeps_its_whole_reason() {
        let bad = Error::bad_request("field", "Field [x] of type [keyword] is not supported");
        assert_eq!(bad.reason(), bad.to_string());
        assert!(bad.reason().contains("of type [keyword]"));
    }

    #[test]
    fn messages_name_what_failed() {
        let timeout = Error::Timeout {
            host: "http://h:1".into(),
            timeout: Duration::from_millis(1500),
        };
        assert_eq!(
            timeout.to_string(),
            "Elasticsearch at http://h:1 did not answer within 1500ms"
        );
        let config = Error::Config {
            variable: "ES_TIMEOUT",
            reason: "not a duration".into(),
        };
        assert_eq!(config.to_string(), "ES_TIMEOUT: not a duration");
        assert_eq!(
            Error::Overloaded(4).to_string(),
            "MAX_IN_FLIGHT=4 calls are already in progress; try again shortly"
        );
    }
}
