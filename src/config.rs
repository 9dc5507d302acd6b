//! Configuration from environment variables, read through a lookup function so that it stays
//! pure: tests pass a closure over a map and never touch the process environment.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use elasticsearch::http::Url;

use crate::error::Error;

/// The original function's client timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long answers are kept: the station writes every 2 minutes, dashboards ask more often.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(15);
/// Where Elasticsearch is when nothing says otherwise.
pub const DEFAULT_URL: &str = "http://localhost:9200";
/// The weather station's monthly indices. `_all` reproduces the original, which searched every index.
pub const DEFAULT_INDEX: &str = "wx-rtbeat-*";

/// The environment variables, for `--help` and the README.
pub const ENVIRONMENT_HELP: &str = "\
Environment:
  HOST          Elasticsearch as host:port, no scheme (http:// is prepended)
  ES_URL        Elasticsearch as a full URL; wins over HOST [default: http://localhost:9200]
  ES_CLOUD_ID   Elastic Cloud deployment id, instead of ES_URL/HOST
  ES_USERNAME   user for basic authentication (with ES_PASSWORD)
  ES_PASSWORD   password for basic authentication; never printed
  ES_API_KEY    API key, base64 as Elasticsearch issues it; never printed
  ES_CA_CERT    path to a PEM file with the CA that signed Elasticsearch's certificate
  ES_TIMEOUT    limit on each Elasticsearch request: 20s, 1500ms or plain seconds [default: 20s]
  ES_INDEX      index or pattern searched [default: wx-rtbeat-*]; _all searches every index,
                exactly as the original function did
  ES_INDEX_ALLOW  patterns an `index` request parameter must match [default: wx-rtbeat-*]
  CACHE_TTL     how long answers are kept, e.g. 15s; 0 turns caching off [default: 15s]
  RUST_LOG      log level [default: warn]; LOG_FORMAT=json logs JSON lines to stderr";

/// Everything wx-stats needs to know to reach Elasticsearch.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where Elasticsearch is.
    pub endpoint: Endpoint,
    /// How to authenticate, if at all.
    pub credentials: Option<Credentials>,
    /// A PEM file holding the CA that signed Elasticsearch's certificate.
    pub ca_cert: Option<PathBuf>,
    /// The limit on every request to Elasticsearch.
    pub timeout: Duration,
    /// The index pattern searched.
    pub index: String,
    /// The patterns a request's `index` parameter must match (`ES_INDEX_ALLOW`).
    pub index_allow: String,
    /// How long search answers are kept (`CACHE_TTL`); zero turns the cache off.
    pub cache_ttl: Duration,
}

/// Where Elasticsearch is: a URL, or an Elastic Cloud deployment.
#[derive(Clone, Debug, PartialEq)]
pub enum Endpoint {
    /// From `ES_URL`, or `http://` + `HOST`.
    Url(Url),
    /// From `ES_CLOUD_ID`.
    CloudId(String),
}

/// How to authenticate to Elasticsearch.
#[derive(Clone, Debug, PartialEq)]
pub enum Credentials {
    /// `ES_USERNAME` and `ES_PASSWORD`.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// `ES_API_KEY`, as Elasticsearch encodes it (base64 of `id:key`).
    ApiKey(Secret),
}

/// A string that never shows itself in `Debug` or `Display` output.
#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Config {
    /// Reads the configuration through `lookup`, usually `|k| std::env::var(k).ok()`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        // An empty variable is treated as unset: container specs often template them to "".
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Ok(Config {
            endpoint: endpoint(&get)?,
            credentials: credentials(&get)?,
            ca_cert: get("ES_CA_CERT").map(PathBuf::from),
            timeout: match get("ES_TIMEOUT") {
                Some(text) => parse_timeout(&text)?,
                None => DEFAULT_TIMEOUT,
            },
            index: match get("ES_INDEX") {
                Some(index) => validate_index("ES_INDEX", index)?,
                None => DEFAULT_INDEX.to_string(),
            },
            cache_ttl: match get("CACHE_TTL") {
                Some(text) if text.trim() == "0" => Duration::ZERO,
                Some(text) => parse_duration("CACHE_TTL", &text)?,
                None => DEFAULT_CACHE_TTL,
            },
            index_allow: match get("ES_INDEX_ALLOW") {
                Some(patterns) => validate_index("ES_INDEX_ALLOW", patterns)?,
                None => DEFAULT_INDEX.to_string(),
            },
        })
    }

    /// The address shown in logs and errors: never carries credentials.
    pub fn host(&self) -> String {
        match &self.endpoint {
            Endpoint::Url(url) => url.as_str().trim_end_matches('/').to_string(),
            Endpoint::CloudId(id) => format!("cloud id {}", id.split(':').next().unwrap_or("")),
        }
    }
}

fn config_error(variable: &'static str, reason: impl Into<String>) -> Error {
    Error::Config {
        variable,
        reason: reason.into(),
    }
}

fn endpoint(get: &impl Fn(&str) -> Option<String>) -> Result<Endpoint, Error> {
    if let Some(cloud_id) = get("ES_CLOUD_ID") {
        if get("ES_URL").is_some() || get("HOST").is_some() {
            return Err(config_error(
                "ES_CLOUD_ID",
                "set either ES_CLOUD_ID or ES_URL/HOST, not both",
            ));
        }
        elasticsearch::http::transport::CloudId::parse(&cloud_id)
            .map_err(|e| config_error("ES_CLOUD_ID", format!("not a valid cloud id: {e}")))?;
        return Ok(Endpoint::CloudId(cloud_id));
    }
    let (variable, text) = match (get("ES_URL"), get("HOST")) {
        (Some(url), _) => ("ES_URL", url),
        (None, Some(host)) => {
            if host.contains("://") {
                return Err(config_error(
                    "HOST",
                    "expected host:port without a scheme; put a full URL in ES_URL",
                ));
            }
            ("HOST", format!("http://{host}"))
        }
        (None, None) => ("ES_URL", DEFAULT_URL.to_string()),
    };
    let url = Url::parse(&text)
        .map_err(|e| config_error(variable, format!("not a valid address: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(config_error(
            variable,
            "expected an http:// or https:// address with a host",
        ));
    }
    if url.password().is_some() || !url.username().is_empty() {
        // Credentials in a URL end up in logs and error messages; keep them in their own variables.
        return Err(config_error(
            variable,
            "must not carry credentials; use ES_USERNAME/ES_PASSWORD or ES_API_KEY",
        ));
    }
    Ok(Endpoint::Url(url))
}

fn credentials(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Credentials>, Error> {
    let api_key = get("ES_API_KEY");
    match (get("ES_USERNAME"), get("ES_PASSWORD"), api_key) {
        (Some(_), _, Some(_)) => Err(config_error(
            "ES_API_KEY",
            "set either ES_API_KEY or ES_USERNAME/ES_PASSWORD, not both",
        )),
        (Some(username), Some(password), None) => Ok(Some(Credentials::Basic {
            username,
            password: Secret(password),
        })),
        (Some(_), None, None) => Err(config_error(
            "ES_PASSWORD",
            "is required when ES_USERNAME is set",
        )),
        (None, Some(_), _) => Err(config_error(
            "ES_USERNAME",
            "is required when ES_PASSWORD is set",
        )),
        (None, None, Some(key)) => Ok(Some(Credentials::ApiKey(Secret(key)))),
        (None, None, None) if get("ES_CLOUD_ID").is_some() => Err(config_error(
            "ES_CLOUD_ID",
            "needs ES_API_KEY or ES_USERNAME/ES_PASSWORD",
        )),
        (None, None, None) => Ok(None),
    }
}

/// Parses `20s`, `1500ms` or plain seconds (`20`), the spellings `ES_TIMEOUT` accepts.
pub fn parse_timeout(text: &str) -> Result<Duration, Error> {
    parse_duration("ES_TIMEOUT", text)
}

/// Parses a duration variable: `20s`, `1500ms` or plain seconds, more than 0 and at most an hour.
pub fn parse_duration(variable: &'static str, text: &str) -> Result<Duration, Error> {
    let text = text.trim();
    let (number, millis_per_unit) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000)
    } else {
        (text, 1000)
    };
    let millis = number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(millis_per_unit))
        .ok_or_else(|| {
            config_error(
                variable,
                format!("{text:?} is not a duration; use e.g. 20s, 1500ms or 20"),
            )
        })?;
    if millis == 0 || millis > 3_600_000 {
        return Err(config_error(
            variable,
            "must be more than 0 and at most 1 hour",
        ));
    }
    Ok(Duration::from_millis(millis))
}

fn validate_index(variable: &'static str, index: String) -> Result<String, Error> {
    // The index becomes a URL path segment: refuse anything that could change the path.
    let bad =
        |c: char| c.is_whitespace() || matches!(c, '/' | '\\' | '?' | '#' | '"' | '<' | '>' | '|');
    if index.chars().any(bad) || index.starts_with(['_', '-', '+']) && index != "_all" {
        return Err(config_error(
            variable,
            format!("{index:?} is not an index name or pattern"),
        ));
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    fn failing_variable(vars: &[(&str, &str)]) -> &'static str {
        match config(vars) {
            Err(Error::Config { variable, .. }) => variable,
            other => panic!("expected a config error for {vars:?}, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_original() {
        let c = config(&[]).unwrap();
        assert_eq!(c.host(), "http://localhost:9200");
        assert_eq!(c.timeout, Duration::from_secs(20));
        assert_eq!(c.index, "wx-rtbeat-*");
        assert_eq!(c.index_allow, "wx-rtbeat-*");
        assert_eq!(c.cache_ttl, Duration::from_secs(15));
        assert_eq!(c.credentials, None);
        assert_eq!(c.ca_cert, None);
    }

    #[test]
    fn host_gets_a_scheme_and_es_url_wins() {
        assert_eq!(
            config(&[("HOST", "es:9201")]).unwrap().host(),
            "http://es:9201"
        );
        let both = config(&[("HOST", "es:9201"), ("ES_URL", "https://other:443/")]).unwrap();
        assert_eq!(both.host(), "https://other");
        assert_eq!(
            config(&[("HOST", "")]).unwrap().host(),
            "http://localhost:9200"
        );
    }

    #[test]
    fn bad_addresses_name_their_variable() {
        assert_eq!(failing_variable(&[("HOST", "http://es:9200")]), "HOST");
        assert_eq!(failing_variable(&[("HOST", "es:notaport")]), "HOST");
        assert_eq!(failing_variable(&[("ES_URL", "ftp://es")]), "ES_URL");
        assert_eq!(failing_variable(&[("ES_URL", "not a url")]), "ES_URL");
        assert_eq!(
            failing_variable(&[("ES_URL", "http://u:p@es:9200")]),
            "ES_URL"
        );
    }

    #[test]
    fn timeout_spellings() {
        for (text, millis) in [
            ("20s", 20_000),
            ("1500ms", 1500),
            ("7", 7000),
            (" 3s ", 3000),
        ] {
            assert_eq!(
                config(&[("ES_TIMEOUT", text)]).unwrap().timeout,
                Duration::from_millis(millis),
                "{text}"
            );
        }
        for bad in [
            "banana",
            "0",
            "-1",
            "1.5s",
            "10m",
            "3601s",
            "99999999999999999999",
        ] {
            assert_eq!(
                failing_variable(&[("ES_TIMEOUT", bad)]),
                "ES_TIMEOUT",
                "{bad}"
            );
        }
    }

    #[test]
    fn cache_ttl_can_be_turned_off() {
        assert_eq!(
            config(&[("CACHE_TTL", "0")]).unwrap().cache_ttl,
            Duration::ZERO
        );
        assert_eq!(
            config(&[("CACHE_TTL", "2s")]).unwrap().cache_ttl,
            Duration::from_secs(2)
        );
        assert_eq!(failing_variable(&[("CACHE_TTL", "often")]), "CACHE_TTL");
    }

    #[test]
    fn credentials_come_in_pairs() {
        let basic = config(&[("ES_USERNAME", "elastic"), ("ES_PASSWORD", "hunter2")]).unwrap();
        assert!(
            matches!(basic.credentials, Some(Credentials::Basic { ref username, ref password })
            if username == "elastic" && password.expose() == "hunter2")
        );
        let key = config(&[("ES_API_KEY", "a2V5")]).unwrap();
        assert!(
            matches!(key.credentials, Some(Credentials::ApiKey(ref k)) if k.expose() == "a2V5")
        );
        assert_eq!(
            failing_variable(&[("ES_USERNAME", "elastic")]),
            "ES_PASSWORD"
        );
        assert_eq!(
            failing_variable(&[("ES_PASSWORD", "hunter2")]),
            "ES_USERNAME"
        );
        assert_eq!(
            failing_variable(&[
                ("ES_USERNAME", "e"),
                ("ES_PASSWORD", "p"),
                ("ES_API_KEY", "k")
            ]),
            "ES_API_KEY"
        );
    }

    #[test]
    fn cloud_id_needs_credentials_and_no_url() {
        // "name:base64(host$es_uuid$kibana_uuid)"
        let id = "wx:ZXhhbXBsZS5jb20kZXNfdXVpZCRraWJhbmFfdXVpZA==";
        let c = config(&[("ES_CLOUD_ID", id), ("ES_API_KEY", "k")]).unwrap();
        assert_eq!(c.endpoint, Endpoint::CloudId(id.into()));
        assert_eq!(c.host(), "cloud id wx");
        assert_eq!(failing_variable(&[("ES_CLOUD_ID", id)]), "ES_CLOUD_ID");
        assert_eq!(
            failing_variable(&[("ES_CLOUD_ID", id), ("ES_API_KEY", "k"), ("HOST", "h:1")]),
            "ES_CLOUD_ID"
        );
        assert_eq!(
            failing_variable(&[("ES_CLOUD_ID", "nonsense"), ("ES_API_KEY", "k")]),
            "ES_CLOUD_ID"
        );
    }

    #[test]
    fn ca_cert_and_index() {
        let c = config(&[("ES_CA_CERT", "/etc/ca.pem"), ("ES_INDEX", "_all")]).unwrap();
        assert_eq!(c.ca_cert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(c.index, "_all");
        assert_eq!(
            config(&[("ES_INDEX", "wx-rtbeat-2026.11,wx-rtbeat-2026.10")])
                .unwrap()
                .index,
            "wx-rtbeat-2026.11,wx-rtbeat-2026.10"
        );
        for bad in ["a/b", "a b", "_search", "x?y", "-x"] {
            assert_eq!(failing_variable(&[("ES_INDEX", bad)]), "ES_INDEX", "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let basic = config(&[("ES_USERNAME", "elastic"), ("ES_PASSWORD", "hunter2")]).unwrap();
        let key = config(&[("ES_API_KEY", "c2VjcmV0a2V5")]).unwrap();
        let shown = format!("{basic:?} {key:?} {basic:#?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("c2VjcmV0a2V5"),
            "{shown}"
        );
        assert!(shown.contains("***"));
    }
}
