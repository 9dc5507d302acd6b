//! Configuration from environment variables, read through a lookup function so that it stays
//! pure: tests pass a closure over a map and never touch the process environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use elasticsearch::http::Url;

use crate::error::Error;

mod env;
mod secrets;
pub use env::Env;
pub(crate) use secrets::Secret;
use secrets::{credentials, read_secret_file};

/// The original function's client timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long answers are kept: the station writes every 2 minutes, dashboards ask more often.
pub(crate) const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(15);
/// The most bytes of answers the cache keeps: with the rest of a door, it fits well inside the
/// smallest memory limit in the deploy files (64 MiB); see the README's memory ceiling.
pub(crate) const DEFAULT_CACHE_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// The most buckets an answer holds: a bucket every 0.1 degree across 200 degrees, more bars
/// than an 800-pixel chart can draw. No reader, person or program, needs finer; and it bounds
/// what any one answer costs to search, render, keep and send (see the README's security section).
pub(crate) const DEFAULT_MAX_BUCKETS_SERVED: u64 = 2_000;
/// The most `MAX_BUCKETS_SERVED` may be: the most buckets Elasticsearch 9 always serves with its
/// default `search.max_buckets` (65,536). Its last reduce counts the empty buckets it fills in
/// a second time, in steps of 10,000, so 35,537 mostly empty buckets count as 65,537 and are
/// refused (measured on Elasticsearch 9.5).
pub(crate) const MAX_BUCKETS_SERVED_LIMIT: u64 = 35_536;
/// Where Elasticsearch is when nothing says otherwise.
pub(crate) const DEFAULT_URL: &str = "http://localhost:9200";
/// The weather station's monthly indices. `_all` reproduces the original, which searched every index.
pub(crate) const DEFAULT_INDEX: &str = "wx-rtbeat-*";

/// The environment variables, for `--help` and the README.
pub const ENVIRONMENT_HELP: &str = "\
Environment:
  HOST          Elasticsearch as host:port, no scheme (http:// is prepended); a cluster's
                nodes comma-separated: es1:9200,es2:9200
  ES_URL        Elasticsearch as a full URL, or a cluster's nodes' URLs comma-separated;
                wins over HOST [default: http://localhost:9200]
  ES_CLOUD_ID   Elastic Cloud deployment id, instead of ES_URL/HOST
  ES_USERNAME   user for basic authentication (with ES_PASSWORD)
  ES_PASSWORD   password for basic authentication; never printed
  ES_PASSWORD_FILE  a file holding the password instead (a mounted Secret); one trailing
                newline is dropped
  ES_API_KEY    API key, base64 as Elasticsearch issues it; never printed
  ES_API_KEY_FILE  a file holding the API key instead
  ES_CA_CERT    path to a PEM file with the CA that signed Elasticsearch's certificate
  ES_TIMEOUT    limit on each Elasticsearch request: 20s, 1500ms or plain seconds [default: 20s]
  ES_INDEX      index or pattern searched [default: wx-rtbeat-*]; _all searches every index,
                exactly as the original function did
  ES_INDEX_ALLOW  patterns an `index` request parameter must match [default: wx-rtbeat-*]
  MAX_BUCKETS_SERVED  the most buckets an answer holds, 1 to 35536; a request for more is
                a 400 naming `interval` [default: 2000]
  CACHE_TTL     how long answers are kept, e.g. 15s; 0 turns caching off [default: 15s]
  CACHE_MAX_BYTES  the most memory kept answers may take, in bytes or with KiB or MiB
                (e.g. 16MiB); an answer over 1/16 of it is served but not kept [default: 16MiB]
  STATION_TIME_ZONE  the station's time zone, as the IANA names it (e.g. Europe/Berlin):
                the page for browsers shows its times in it [default: UTC]
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
    /// The most bytes of answers the cache keeps (`CACHE_MAX_BYTES`).
    pub cache_max_bytes: u64,
    /// The most buckets an answer holds (`MAX_BUCKETS_SERVED`).
    pub max_buckets: u64,
    /// The station's time zone (`STATION_TIME_ZONE`), which the page shows its times in.
    pub time_zone: jiff::tz::TimeZone,
}

/// Where Elasticsearch is: its nodes' URLs, or an Elastic Cloud deployment.
#[derive(Clone, Debug, PartialEq)]
pub enum Endpoint {
    /// From `ES_URL`, or `http://` + `HOST`: one node or several, comma-separated.
    Nodes(Vec<Url>),
    /// From `ES_CLOUD_ID`.
    CloudId(String),
}

/// How to authenticate to Elasticsearch.
#[derive(Clone, Debug, PartialEq)]
pub enum Credentials {
    /// `ES_USERNAME` and `ES_PASSWORD`.
    Basic { username: String, password: Secret },
    /// `ES_API_KEY`, as Elasticsearch encodes it (base64 of `id:key`).
    ApiKey(Secret),
}

/// Credentials that would travel unencrypted: the variable that set them, and the `http://`
/// nodes they would go to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PlainHttpCredentials {
    /// The variable that set the secret, e.g. `ES_PASSWORD_FILE`.
    pub(crate) variable: &'static str,
    /// The plain-HTTP nodes, comma-separated, without credentials (URLs never carry them).
    pub(crate) nodes: String,
}

impl Config {
    /// Reads the configuration through `lookup`, usually `|k| std::env::var(k).ok()`, and the
    /// files `ES_PASSWORD_FILE` or `ES_API_KEY_FILE` name from the file system.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Self::from_env(&Env::new(lookup))
    }

    /// Reads the configuration from `env`, and the files `ES_PASSWORD_FILE` or
    /// `ES_API_KEY_FILE` name from the file system.
    pub fn from_env(env: &Env) -> Result<Self, Error> {
        Self::from_env_with_files(env, read_secret_file)
    }

    /// [`Config::from_env`], reading secret files through `read`: the file system is the
    /// one thing configuration touches besides the variables, so it stays at this edge.
    pub(crate) fn from_env_with_files(
        env: &Env,
        read: impl Fn(&Path) -> std::io::Result<String>,
    ) -> Result<Self, Error> {
        let get = |name: &str| env.get(name);
        Ok(Config {
            endpoint: endpoint(&get)?,
            credentials: credentials(&get, &read)?,
            ca_cert: get("ES_CA_CERT").map(PathBuf::from),
            timeout: env
                .parse("ES_TIMEOUT", parse_duration)?
                .unwrap_or(DEFAULT_TIMEOUT),
            index: match get("ES_INDEX") {
                Some(index) => validate_index("ES_INDEX", index)?,
                None => DEFAULT_INDEX.to_string(),
            },
            cache_ttl: env
                .parse("CACHE_TTL", |text| match text {
                    "0" => Ok(Duration::ZERO),
                    _ => parse_duration(text),
                })?
                .unwrap_or(DEFAULT_CACHE_TTL),
            cache_max_bytes: env
                .parse("CACHE_MAX_BYTES", parse_bytes)?
                .unwrap_or(DEFAULT_CACHE_MAX_BYTES),
            max_buckets: env
                .parse("MAX_BUCKETS_SERVED", parse_max_buckets)?
                .unwrap_or(DEFAULT_MAX_BUCKETS_SERVED),
            index_allow: match get("ES_INDEX_ALLOW") {
                Some(patterns) => validate_index("ES_INDEX_ALLOW", patterns)?,
                None => DEFAULT_INDEX.to_string(),
            },
            time_zone: env
                .parse("STATION_TIME_ZONE", parse_time_zone)?
                .unwrap_or(jiff::tz::TimeZone::UTC),
        })
    }

    /// The address shown in logs and errors: never carries credentials.
    pub fn host(&self) -> String {
        match &self.endpoint {
            Endpoint::Nodes(urls) => urls
                .iter()
                .map(|url| url.as_str().trim_end_matches('/'))
                .collect::<Vec<_>>()
                .join(","),
            Endpoint::CloudId(id) => format!("cloud id {}", id.split(':').next().unwrap_or("")),
        }
    }

    /// Credentials set to go to a node over plain `http://`, where anyone on the network path
    /// can read them: a start-up warning, not an error, as a sidecar or a private network may
    /// make it safe. An Elastic Cloud id always means HTTPS.
    pub(crate) fn credentials_over_plain_http(&self) -> Option<PlainHttpCredentials> {
        let variable = match self.credentials.as_ref()? {
            Credentials::Basic { password, .. } => password.source(),
            Credentials::ApiKey(key) => key.source(),
        };
        let Endpoint::Nodes(urls) = &self.endpoint else {
            return None;
        };
        let plain: Vec<&str> = urls
            .iter()
            .filter(|url| url.scheme() == "http")
            .map(|url| url.as_str().trim_end_matches('/'))
            .collect();
        (!plain.is_empty()).then(|| PlainHttpCredentials {
            variable,
            nodes: plain.join(","),
        })
    }
}

fn endpoint(get: &impl Fn(&str) -> Option<String>) -> Result<Endpoint, Error> {
    if let Some(cloud_id) = get("ES_CLOUD_ID") {
        if get("ES_URL").is_some() || get("HOST").is_some() {
            return Err(Error::config(
                "ES_CLOUD_ID",
                "set either ES_CLOUD_ID or ES_URL/HOST, not both",
            ));
        }
        elasticsearch::http::transport::CloudId::parse(&cloud_id)
            .map_err(|e| Error::config("ES_CLOUD_ID", format!("not a valid cloud id: {e}")))?;
        return Ok(Endpoint::CloudId(cloud_id));
    }
    let (variable, list) = match (get("ES_URL"), get("HOST")) {
        (Some(urls), _) => ("ES_URL", urls),
        (None, Some(hosts)) => ("HOST", hosts),
        (None, None) => ("ES_URL", DEFAULT_URL.to_string()),
    };
    // An `@` anywhere may be a password in the URL, itself perhaps holding a comma: then no
    // message shows any part of the value.
    let shown = !list.contains('@');
    let nodes = list
        .split(',')
        .map(|node| node_url(variable, node.trim(), shown))
        .collect::<Result<Vec<Url>, Error>>()?;
    Ok(Endpoint::Nodes(nodes))
}

/// One node of `ES_URL` (a full URL) or of `HOST` (`host:port`, to which `http://` is added).
/// `shown`: whether a message may quote it.
fn node_url(variable: &'static str, text: &str, shown: bool) -> Result<Url, Error> {
    let text = match variable {
        "HOST" if text.contains("://") => {
            return Err(Error::config(
                "HOST",
                "expected host:port without a scheme; put a full URL in ES_URL",
            ));
        }
        "HOST" => format!("http://{text}"),
        _ => text.to_string(),
    };
    let url = Url::parse(&text).map_err(|e| {
        let reason = if shown {
            format!("{text:?} is not a valid address: {e}")
        } else {
            format!(
                "is not a valid address: {e} (the value is not shown, as its `@` may hold \
                 credentials; use ES_USERNAME/ES_PASSWORD or ES_API_KEY)"
            )
        };
        Error::config(variable, reason)
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::config(
            variable,
            "expected an http:// or https:// address with a host",
        ));
    }
    if url.password().is_some() || !url.username().is_empty() {
        // Credentials in a URL end up in logs and error messages; keep them in their own variables.
        return Err(Error::config(
            variable,
            "must not carry credentials; use ES_USERNAME/ES_PASSWORD or ES_API_KEY",
        ));
    }
    Ok(url)
}

/// A duration as every duration variable is written: `20s`, `1500ms` or plain seconds, more
/// than 0 and at most an hour. The error is what is wrong with it.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
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
        .ok_or_else(|| format!("{text:?} is not a duration; use e.g. 20s, 1500ms or 20"))?;
    if millis == 0 || millis > 3_600_000 {
        return Err("must be more than 0 and at most 1 hour".to_string());
    }
    Ok(Duration::from_millis(millis))
}

/// A time zone by its IANA name, from the database built into the binary.
fn parse_time_zone(text: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(text).map_err(|_| {
        format!("{text:?} is not a time zone of the IANA database, such as Europe/Berlin or UTC")
    })
}

/// A number of buckets from 1 to [`MAX_BUCKETS_SERVED_LIMIT`].
fn parse_max_buckets(text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .ok()
        .filter(|n| (1..=MAX_BUCKETS_SERVED_LIMIT).contains(n))
        .ok_or_else(|| {
            format!(
                "{text:?} is not a number of buckets from 1 to {MAX_BUCKETS_SERVED_LIMIT} (the most \
                 Elasticsearch serves with its default search.max_buckets)"
            )
        })
}

/// A size: plain bytes, or a number of `KiB` or `MiB`; at least 1 KiB and at most 4 GiB.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let (number, unit) = if let Some(n) = text.strip_suffix("MiB") {
        (n, 1024 * 1024)
    } else if let Some(n) = text.strip_suffix("KiB") {
        (n, 1024)
    } else {
        (text, 1)
    };
    number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|bytes| (1024..=4 << 30).contains(bytes))
        .ok_or_else(|| {
            format!("{text:?} is not a size from 1KiB to 4096MiB; use e.g. 16MiB or 16777216")
        })
}

fn validate_index(variable: &'static str, index: String) -> Result<String, Error> {
    // The index becomes a URL path segment: refuse anything that could change the path.
    let bad =
        |c: char| c.is_whitespace() || matches!(c, '/' | '\\' | '?' | '#' | '"' | '<' | '>' | '|');
    if index.chars().any(bad) || index.starts_with(['_', '-', '+']) && index != "_all" {
        return Err(Error::config(
            variable,
            format!("{index:?} is not an index name or pattern"),
        ));
    }
    Ok(index)
}

#[cfg(test)]
mod tests;
