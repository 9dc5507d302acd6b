//! The Elasticsearch client: built from [`Config`] without touching the network, and a
//! `search` that turns every way a request can fail into a distinct [`Error`]. It only talks
//! to Elasticsearch: which index to search, and whether to keep the answer, are [`crate::stats`]'s.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use elasticsearch::auth::Credentials as EsCredentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::Method;
use elasticsearch::http::headers::{ACCEPT_ENCODING, HeaderMap, HeaderName, HeaderValue};
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{
    CloudConnectionPool, SingleNodeConnectionPool, TransportBuilder,
};
use elasticsearch::{Elasticsearch, SearchParts};
use opentelemetry::KeyValue;
use serde_json::Value;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::call::CallContext;
use crate::config::{Config, Credentials, Endpoint};
use crate::error::Error;

mod search_response;
pub(crate) use search_response::SearchResponse;

/// Who asked, as Elasticsearch's slow log and `_tasks` name the caller.
const X_OPAQUE_ID: &str = "x-opaque-id";
/// W3C trace context, passed on so that a trace goes on past the door.
const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// The most searches one process has in flight to Elasticsearch at once; more wait their turn
/// within their own time limit. Each search in flight holds a connection, with its buffers, so
/// 64 calls at once would otherwise open 64 connections, raising the process's peak memory, and
/// 64 sockets on a node for each pod or Lambda environment. A node runs few searches at once
/// anyway (its `search` thread pool has `cores × 3 / 2 + 1` threads) and queues the rest, so
/// the wait moves from its queue to ours.
pub(crate) const MAX_SEARCHES_IN_FLIGHT: usize = 16;

/// A configured Elasticsearch client. Cheap to clone; building it makes no network call.
///
/// A cluster's nodes (a comma-separated `ES_URL` or `HOST`) each get their own connection pool.
/// Searches take turns across them, and one that cannot reach its node (refused, reset, or
/// answered 503 or 429) is tried on the next, until every node has been tried: searches are
/// idempotent. (The crate's multi-node pool also takes turns, but cannot say which node to try
/// next when one fails, so a retry under load could land on the same dead node again.)
#[derive(Clone)]
pub struct EsClient {
    /// One client per node, in the order the variable lists them.
    nodes: Arc<[Elasticsearch]>,
    /// Each node's host and port, for its searches' spans and metrics.
    addresses: Arc<[(String, u16)]>,
    /// Whose turn it is: the node the next search starts at.
    turn: Arc<AtomicUsize>,
    host: String,
    /// The variables that set the credentials, which a 401 or 403 names.
    credentials: Option<String>,
    timeout: Duration,
    /// [`MAX_SEARCHES_IN_FLIGHT`] permits, shared by every clone.
    in_flight: Arc<Semaphore>,
}

impl EsClient {
    /// Builds the client. Fails only on local problems, such as an unreadable `ES_CA_CERT`.
    pub fn new(config: &Config) -> Result<Self, Error> {
        let ca_pem = match &config.ca_cert {
            Some(path) => Some(read_ca_pem(path)?),
            None => None,
        };
        // Each node's client, and its host and port for its searches' spans and metrics.
        let (nodes, addresses): (Vec<_>, Vec<_>) = match &config.endpoint {
            Endpoint::Nodes(urls) => urls
                .iter()
                .map(|url| {
                    let pool = SingleNodeConnectionPool::new(url.clone());
                    let client = connect(TransportBuilder::new(pool), config, ca_pem.as_deref())?;
                    let host = url.host_str().unwrap_or_default().to_string();
                    Ok((client, (host, url.port_or_known_default().unwrap_or(9200))))
                })
                .collect::<Result<Vec<_>, Error>>()?,
            Endpoint::CloudId(id) => {
                let pool = CloudConnectionPool::new(id)
                    .map_err(|e| Error::config("ES_CLOUD_ID", e.to_string()))?;
                let client = connect(TransportBuilder::new(pool), config, ca_pem.as_deref())?;
                vec![(client, (config.host(), 443))]
            }
        }
        .into_iter()
        .unzip();
        // A refusal is told by the variables that set the credentials it refused.
        let credentials = config
            .credentials
            .as_ref()
            .map(|credentials| match credentials {
                Credentials::Basic { password, .. } => {
                    format!(
                        "the user name and password (ES_USERNAME, {})",
                        password.source()
                    )
                }
                Credentials::ApiKey(key) => format!("the API key ({})", key.source()),
            });
        Ok(EsClient {
            nodes: nodes.into(),
            addresses: addresses.into(),
            turn: Arc::default(),
            host: config.host(),
            credentials,
            timeout: config.timeout,
            in_flight: Arc::new(Semaphore::new(MAX_SEARCHES_IN_FLIGHT)),
        })
    }

    /// The limit on each call's searches (`ES_TIMEOUT`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The address, safe to show: it never carries credentials.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The first node's client, for the few callers that need other APIs (the sample loader).
    pub fn client(&self) -> &Elasticsearch {
        &self.nodes[0]
    }

    /// Runs a search on `index` (a name, pattern or comma-separated list) and returns
    /// Elasticsearch's response text untouched. A node that cannot serve it passes it on to the
    /// next; when none can, the last node's failure is the answer. The call's request id goes
    /// as `X-Opaque-Id`, its trace context as `traceparent` and `tracestate`, and it must end
    /// before the call's deadline. When traces are exported, each try is a CLIENT span, and the
    /// `traceparent` it sends names that span as the parent.
    pub async fn search(
        &self,
        index: &str,
        body: Bytes,
        call: &CallContext,
    ) -> Result<String, Error> {
        let indices: Vec<&str> = index.split(',').collect();
        let path = SearchParts::Index(&indices).url();
        let mut headers = HeaderMap::new();
        let pass_on = [
            (X_OPAQUE_ID, Some(call.request_id.as_str())),
            (TRACEPARENT, call.traceparent.as_deref()),
            (TRACESTATE, call.tracestate.as_deref()),
        ];
        for (name, value) in pass_on {
            let value = value.filter(|v| !v.is_empty());
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        // One deadline for the wait for a turn and the search: a call never spends more than
        // its timeout in here, however long it queued.
        let timeout = call.timeout(self.timeout);
        let deadline = Instant::now() + timeout;
        let _permit = self.permit(deadline, timeout).await?;
        let first = self.turn.fetch_add(1, Ordering::Relaxed);
        let mut tries = (0..self.nodes.len()).map(|n| (first + n) % self.nodes.len());
        loop {
            let Some(node) = tries.next() else {
                unreachable!("a client has at least one node")
            };
            let (address, port) = &self.addresses[node];
            let span = search_span(address, *port);
            let mut headers = headers.clone();
            let traceparent = crate::otel::traceparent(&span);
            if let Some(value) = traceparent.and_then(|t| HeaderValue::from_str(&t).ok()) {
                headers.insert(HeaderName::from_static(TRACEPARENT), value);
            }
            // The body's bytes go as they are, through the crate's transport: no JSON value is
            // built again for each try.
            let started = Instant::now();
            let left = deadline.saturating_duration_since(started);
            let tried = async {
                let sent = self.nodes[node]
                    .send(
                        Method::Post,
                        &path,
                        headers,
                        None::<&()>,
                        Some(body.clone()),
                        Some(left),
                    )
                    .await;
                self.answer_of(sent, timeout).await
            };
            let answer = tried.instrument(span.clone()).await;
            searched(&span, address, started, &answer);
            match answer {
                Err(error @ Error::Unavailable { .. }) if tries.len() > 0 => {
                    tracing::debug!(%error, "trying the next node");
                }
                answer => return answer,
            }
        }
    }

    /// A turn to search, waited for no later than `deadline` (the end of the call's `timeout`):
    /// a call that times out while waiting is Elasticsearch being too slow for the load, a 504
    /// like any other.
    async fn permit(
        &self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, Error> {
        let waited = tokio::time::timeout_at(deadline.into(), self.in_flight.acquire()).await;
        match waited {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => unreachable!("the client never closes its semaphore"),
            Err(_elapsed) => Err(Error::Timeout {
                host: self.host.clone(),
                timeout,
            }),
        }
    }

    /// The text of a successful answer to `sent`; otherwise the failure as an [`Error`]: a
    /// transport failure, or Elasticsearch's own error for a 4xx or 5xx.
    pub(crate) async fn response_text(
        &self,
        sent: Result<Response, elasticsearch::Error>,
    ) -> Result<String, Error> {
        self.answer_of(sent, self.timeout).await
    }

    /// [`Self::response_text`] of a request that was given `timeout`.
    async fn answer_of(
        &self,
        sent: Result<Response, elasticsearch::Error>,
        timeout: Duration,
    ) -> Result<String, Error> {
        let response = sent.map_err(|e| self.transport_error(&e, timeout))?;
        let status = response.status_code().as_u16();
        if crate::otel::tracing_on() {
            // On the search's span, when it is one's; text, as the conventions want it.
            tracing::Span::current().record("db.response.status_code", status);
        }
        let text = response
            .text()
            .await
            .map_err(|e| self.transport_error(&e, timeout))?;
        match status {
            401 | 403 => Err(self.refused(status, &text)),
            // Elasticsearch is up but cannot serve now: starting, recovering or overloaded. The
            // caller should retry, as after a refused connection, so both are a 503.
            429 | 503 => Err(Error::Unavailable {
                host: self.host.clone(),
                reason: {
                    let (es_type, reason) = type_and_reason(&text);
                    format!("it answered {status}: {es_type}: {reason}")
                },
                answered: Some(status),
            }),
            400.. => Err(elasticsearch_error(status, &text)),
            _ => Ok(text),
        }
    }

    /// A failure before any status arrived: too slow, TLS that failed, or not reachable at all.
    fn transport_error(&self, error: &elasticsearch::Error, timeout: Duration) -> Error {
        if error.is_timeout() {
            return Error::Timeout {
                host: self.host.clone(),
                timeout,
            };
        }
        if let Some(tls) = tls_failure(error) {
            return Error::Tls {
                host: self.host.clone(),
                reason: describe_tls(tls),
            };
        }
        Error::Unavailable {
            host: self.host.clone(),
            reason: root_cause(error),
            answered: None,
        }
    }

    /// A 401 (the credentials were refused) or a 403 (they may not run the search), from
    /// Elasticsearch (a JSON reason, which names the user and roles: for the log only) or
    /// from a proxy in front of it (often HTML, which says nothing more than the status).
    fn refused(&self, status: u16, body: &str) -> Error {
        let credentials = self.credentials.as_deref();
        let refusal = match (status, credentials) {
            (401, Some(credentials)) => format!("the credentials were refused: {credentials}"),
            (_, Some(credentials)) => format!("{credentials} may not run this search"),
            (_, None) => {
                "no credentials are set: set ES_USERNAME and ES_PASSWORD, or ES_API_KEY".into()
            }
        };
        let reason = match type_and_reason(body) {
            (es_type, reason) if es_type != "elasticsearch_error" => {
                format!("{refusal}; Elasticsearch says: {reason}")
            }
            _ => refusal,
        };
        Error::Refused {
            host: self.host.clone(),
            status,
            reason,
        }
    }
}

/// The CLIENT span of one try of a search, as the database conventions name Elasticsearch's;
/// a disabled span when traces are not exported.
fn search_span(address: &str, port: u16) -> tracing::Span {
    if !crate::otel::tracing_on() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        target: crate::otel::SEARCH_SPANS,
        "search",
        otel.name = "search",
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        db.system.name = "elasticsearch",
        db.operation.name = "search",
        http.request.method = "POST",
        server.address = address,
        server.port = i64::from(port),
        db.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
}

/// Records how a try of a search went: on its span, and in the search duration metric.
fn searched(span: &tracing::Span, address: &str, started: Instant, answer: &Result<String, Error>) {
    if let Err(error) = answer {
        span.record("otel.status_code", "error");
        span.record("error.type", error.error_type());
    }
    if let Some(otel) = crate::otel::instruments() {
        let mut attributes = vec![
            KeyValue::new("db.system.name", "elasticsearch"),
            KeyValue::new("db.operation.name", "search"),
            KeyValue::new("server.address", address.to_string()),
        ];
        if let Err(error) = answer {
            attributes.push(KeyValue::new("error.type", error.error_type().to_string()));
        }
        let seconds = started.elapsed().as_secs_f64();
        otel.search_duration.record(seconds, &attributes);
    }
}

/// One node's client, with the settings every node shares.
fn connect(
    mut builder: TransportBuilder,
    config: &Config,
    ca_pem: Option<&[u8]>,
) -> Result<Elasticsearch, Error> {
    // Answers are a few kilobytes: gzip would cost both sides more CPU than it saves (a profile
    // of the cache-off path showed inflating each response as its largest cost).
    builder = builder
        .timeout(config.timeout)
        .disable_proxy()
        .header(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    match &config.credentials {
        Some(Credentials::Basic { username, password }) => {
            builder = builder.auth(EsCredentials::Basic(
                username.clone(),
                password.expose().to_string(),
            ));
        }
        Some(Credentials::ApiKey(key)) => {
            builder = builder.auth(EsCredentials::EncodedApiKey(key.expose().to_string()));
        }
        None => {}
    }
    if let Some(pem) = ca_pem {
        let cert = Certificate::from_pem(pem).map_err(|e| {
            let path = config
                .ca_cert
                .as_deref()
                .unwrap_or(std::path::Path::new("it"));
            let reason = format!("{} is not a PEM certificate: {e}", path.display());
            Error::config("ES_CA_CERT", reason)
        })?;
        builder = builder.cert_validation(CertificateValidation::Full(cert));
    }
    let transport = builder
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the Elasticsearch client: {e}")))?;
    Ok(Elasticsearch::new(transport))
}

fn read_ca_pem(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::config("ES_CA_CERT", format!("cannot read {}: {e}", path.display())))
}

impl std::fmt::Debug for EsClient {
    // The client's own Debug prints its credentials, so it is left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsClient")
            .field("host", &self.host)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// rustls's error, when the failure was TLS. It arrives inside `io::Error`s (one from
/// tokio-rustls, another from hyper-rustls), and `io::Error::source()` skips past the error
/// it wraps, so the walk steps into each `io::Error` itself.
fn tls_failure<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    None
}

/// Says plainly when the certificate is at fault, and what usually fixes it.
fn describe_tls(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => format!(
            "certificate verification failed ({error}): set ES_CA_CERT to the CA that signed its certificate"
        ),
        rustls::Error::InvalidCertificate(_) => {
            format!("certificate verification failed ({error})")
        }
        other => other.to_string(),
    }
}

/// The innermost message, e.g. "Connection refused (os error 111)", rather than the outer
/// "error sending request for url (…)".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// Keeps Elasticsearch's own `type` and `reason`, from the cause that explains the most: for a
/// failed aggregation the top level only says "all shards failed", or nothing at all. A missing
/// index is its own error (404).
fn elasticsearch_error(status: u16, body: &str) -> Error {
    let (es_type, reason) = type_and_reason(body);
    match es_type.as_str() {
        "index_not_found_exception" => Error::IndexNotFound {
            reason,
            requested: None,
        },
        _ => Error::Elasticsearch {
            status,
            es_type,
            reason,
        },
    }
}

/// Elasticsearch's error `type` and `reason` from an error body, whatever shape it has: the
/// first root cause that gives a reason, else the deepest `caused_by` that does (Elasticsearch
/// 8 and later leave `root_cause` empty when a search phase fails), else the top level.
fn type_and_reason(body: &str) -> (String, String) {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = &parsed["error"];
    let explains = |cause: &&Value| {
        cause["type"].is_string() && cause["reason"].as_str().is_some_and(|r| !r.is_empty())
    };
    let causes = std::iter::successors(Some(error), |cause| Some(&cause["caused_by"]))
        .take_while(|cause| cause.is_object())
        .collect::<Vec<_>>();
    let detail = error["root_cause"]
        .get(0)
        .filter(explains)
        .or_else(|| causes.iter().rev().copied().find(|cause| explains(cause)))
        .unwrap_or(error);
    let text = |v: &Value| v.as_str().map(str::to_string);
    match (text(&detail["type"]), text(&detail["reason"]), text(error)) {
        (Some(es_type), Some(reason), _) => (es_type, reason),
        // Some proxies and old versions answer with a plain string error.
        (_, _, Some(message)) => ("elasticsearch_error".to_string(), message),
        _ => (
            "elasticsearch_error".to_string(),
            body.chars().take(500).collect(),
        ),
    }
}

#[cfg(test)]
mod tests;
