//! Every variable, every default and every bad value, through a lookup over a map.
use std::collections::HashMap;

use super::*;

/// The configuration `vars` give, as the environment would (also used by `secrets`' tests).
pub(super) fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
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
fn a_cluster_is_a_list_of_nodes() {
    let c = config(&[("HOST", "es1:9200, es2:9201")]).unwrap();
    assert_eq!(c.host(), "http://es1:9200,http://es2:9201");
    let c = config(&[("ES_URL", "https://a:9200,https://b:9200")]).unwrap();
    assert!(matches!(&c.endpoint, Endpoint::Nodes(nodes) if nodes.len() == 2));
    for (variable, bad) in [
        ("ES_URL", "http://a:9200,"),
        ("HOST", "a:9200,http://b:9200"),
    ] {
        assert!(
            matches!(config(&[(variable, bad)]), Err(Error::Config { variable: v, .. }) if v == variable),
            "{variable}={bad}"
        );
    }
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
fn cache_budget_in_bytes_kib_or_mib() {
    assert_eq!(
        config(&[]).unwrap().cache_max_bytes,
        DEFAULT_CACHE_MAX_BYTES
    );
    for (text, bytes) in [("8MiB", 8 << 20), ("512KiB", 512 << 10), ("65536", 65536)] {
        assert_eq!(
            config(&[("CACHE_MAX_BYTES", text)])
                .unwrap()
                .cache_max_bytes,
            bytes
        );
    }
    for bad in ["lots", "0", "1", "8GiB", "-5MiB"] {
        assert!(
            matches!(
                config(&[("CACHE_MAX_BYTES", bad)]),
                Err(Error::Config {
                    variable: "CACHE_MAX_BYTES",
                    ..
                })
            ),
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
    assert!(matches!(key.credentials, Some(Credentials::ApiKey(ref k)) if k.expose() == "a2V5"));
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
fn an_api_key_loses_a_trailing_newline_and_must_fit_a_header() {
    let key = config(&[("ES_API_KEY", "a2V5\n")]).unwrap();
    assert!(matches!(key.credentials, Some(Credentials::ApiKey(ref k)) if k.expose() == "a2V5"));
    for bad in ["a2 V5", "a2V5\u{1}", "a2V5\r\nX-Injected: 1", "clé"] {
        match config(&[("ES_API_KEY", bad)]) {
            Err(
                error @ Error::Config {
                    variable: "ES_API_KEY",
                    ..
                },
            ) => {
                assert!(!error.to_string().contains(bad), "{error}")
            }
            other => panic!("{bad:?}: expected an ES_API_KEY error, got {other:?}"),
        }
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

#[test]
fn an_address_that_cannot_be_parsed_never_shows_a_password_it_may_hold() {
    for (variable, bad) in [
        ("ES_URL", "http://user:s3cret@[bad"),
        ("ES_URL", "http://user:s3cret@es:notaport"),
        ("ES_URL", "https://es:9200,http://user:s3cret@[bad"),
        // A comma in the password splits it into two "nodes"; neither may be shown.
        ("ES_URL", "http://user:s3c,ret@es:9200"),
        ("ES_URL", "http://user:s3cret@"),
        ("HOST", "user:s3cret@[bad"),
    ] {
        match config(&[(variable, bad)]) {
            Err(error @ Error::Config { variable: v, .. }) => {
                assert_eq!(v, variable, "{bad}");
                let message = error.to_string();
                for part in ["s3cret", "s3c", "ret@", "user"] {
                    assert!(!message.contains(part), "{bad}: {message}");
                }
            }
            other => panic!("{bad}: expected a config error, got {other:?}"),
        }
    }
    // Without an `@` there is nothing to hide, and the value helps find the typo.
    match config(&[("ES_URL", "http://es:notaport")]) {
        Err(error) => assert!(error.to_string().contains("es:notaport"), "{error}"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn credentials_over_plain_http_are_found_with_their_variable_and_the_nodes() {
    let plain = config(&[
        ("ES_URL", "http://es1:9200,https://es2:9200"),
        ("ES_API_KEY", "a2V5"),
    ])
    .unwrap();
    assert_eq!(
        plain.credentials_over_plain_http(),
        Some(PlainHttpCredentials {
            variable: "ES_API_KEY",
            nodes: "http://es1:9200".into(),
        })
    );
    let host = config(&[
        ("HOST", "es:9200"),
        ("ES_USERNAME", "elastic"),
        ("ES_PASSWORD", "hunter2"),
    ])
    .unwrap();
    let found = host.credentials_over_plain_http().unwrap();
    assert_eq!(
        (found.variable, found.nodes.as_str()),
        ("ES_PASSWORD", "http://es:9200")
    );
    let tls = config(&[("ES_URL", "https://es:9200"), ("ES_API_KEY", "a2V5")]).unwrap();
    assert_eq!(tls.credentials_over_plain_http(), None);
    assert_eq!(
        config(&[("HOST", "es:9200")])
            .unwrap()
            .credentials_over_plain_http(),
        None
    );
}

#[test]
fn the_station_s_time_zone_is_an_iana_name_utc_by_default() {
    assert_eq!(config(&[]).unwrap().time_zone, jiff::tz::TimeZone::UTC);
    let berlin = config(&[("STATION_TIME_ZONE", " Europe/Berlin ")]).unwrap();
    assert_eq!(berlin.time_zone.iana_name(), Some("Europe/Berlin"));
    assert_eq!(
        failing_variable(&[("STATION_TIME_ZONE", "Mars/Olympus")]),
        "STATION_TIME_ZONE"
    );
    let error = config(&[("STATION_TIME_ZONE", "CEST+2")])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("STATION_TIME_ZONE") && error.contains("\"CEST+2\" is not a time zone"),
        "{error}"
    );
}
