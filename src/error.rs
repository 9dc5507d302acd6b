//! The one error type of wx-stats, and its JSON shape.
//!
//! Every failure, whichever door it happens behind, is reported as
//! `{"error":{"type":"…","reason":"…"},"status":N}`, modelled on Elasticsearch's own errors so
//! that a client which already understands Elasticsearch understands us too.

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
    /// Elasticsearch could not be reached at all (refused, reset, name not resolved).
    #[error("cannot reach Elasticsearch at {host}: {reason}")]
    Unavailable {
        /// The Elasticsearch address, without credentials.
        host: String,
        /// The transport's own description of the failure.
        reason: String,
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
    /// Elasticsearch, or a proxy in front of it, answered 401: the credentials were refused.
    #[error("Elasticsearch at {host} refused authentication (401): {reason}")]
    AuthRefused {
        /// The Elasticsearch address, without credentials.
        host: String,
        /// Which credentials were refused, and Elasticsearch's own reason when it gave one;
        /// never the credentials themselves.
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
    },
    /// Elasticsearch answered, but every shard's search failed.
    #[error("Elasticsearch could not search any shard: {0}")]
    AllShardsFailed(String),
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
            | Error::AllShardsFailed(_)
            | Error::Tls { .. }
            | Error::AuthRefused { .. } => 502,
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
            Error::AllShardsFailed(_) => "all_shards_failed",
            Error::TooLarge(_) => "request_too_large",
            Error::PreconditionFailed(_) => "precondition_failed",
            Error::FunctionTimeout(_) => "function_timeout",
            Error::BodyTimeout(_) => "body_timeout",
            Error::Overloaded(_) => "overloaded",
            Error::Unavailable { .. } => "elasticsearch_unavailable",
            Error::Timeout { .. } => "elasticsearch_timeout",
            Error::Tls { .. } => "elasticsearch_tls_error",
            Error::AuthRefused { .. } => "elasticsearch_auth_refused",
            Error::Elasticsearch { es_type, .. } => es_type,
            Error::Internal(_) => "internal_error",
        }
    }

    /// The JSON body: `{"error":{"type":"…","reason":"…"},"status":N}`.
    pub fn to_json(&self) -> Value {
        json!({
            "error": { "type": self.error_type(), "reason": self.to_string() },
            "status": self.status(),
        })
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
                host: "http://h:1".into(),
                reason: "refused".into(),
            },
            Error::Timeout {
                host: "http://h:1".into(),
                timeout: Duration::from_millis(1500),
            },
            Error::Tls {
                host: "https://h:1".into(),
                reason: "certificate verification failed".into(),
            },
            Error::AuthRefused {
                host: "https://h:1".into(),
                reason: "ES_PASSWORD was refused".into(),
            },
            Error::Elasticsearch {
                status: 400,
                es_type: "illegal_argument_exception".into(),
                reason: "no".into(),
            },
            Error::Internal("boom".into()),
            Error::IndexNotFound {
                reason: "no such index [x]".into(),
            },
            Error::AllShardsFailed("2 of 2 shards failed".into()),
            Error::Overloaded(4),
            Error::BodyTimeout(Duration::from_secs(10)),
        ]
    }

    #[test]
    fn every_variant_has_the_one_json_shape() {
        for error in all_variants() {
            let body = error.to_json();
            assert_eq!(body["status"], error.status(), "{error:?}");
            assert_eq!(body["error"]["type"], error.error_type(), "{error:?}");
            assert_eq!(body["error"]["reason"], error.to_string(), "{error:?}");
            assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{error:?}");
        }
    }

    #[test]
    fn statuses_follow_the_failure() {
        let statuses: Vec<u16> = all_variants().iter().map(Error::status).collect();
        assert_eq!(
            statuses,
            [
                500, 400, 400, 405, 413, 412, 408, 503, 504, 502, 502, 502, 500, 404, 502, 503, 408
            ]
        );
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
