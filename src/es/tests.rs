//! Building the client, and every Elasticsearch failure mapped to its error.
use super::*;

#[test]
fn root_cause_wins_over_all_shards_failed() {
    let body = r#"{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"Field [x] of type [keyword] is not supported for aggregation [histogram]"}],"type":"search_phase_execution_exception","reason":"all shards failed"},"status":400}"#;
    let error = elasticsearch_error(400, body);
    assert_eq!(error.error_type(), "illegal_argument_exception");
    assert!(
        error
            .to_string()
            .contains("is not supported for aggregation"),
        "{error}"
    );
    assert_eq!(error.status(), 502);
}

#[test]
fn odd_error_bodies_still_give_an_error() {
    assert_eq!(
        elasticsearch_error(500, r#"{"error":"boom"}"#).to_string(),
        "Elasticsearch answered 500: elasticsearch_error: boom"
    );
    assert!(
        elasticsearch_error(502, "<html>bad gateway</html>")
            .to_string()
            .contains("bad gateway")
    );
    let missing = elasticsearch_error(
        404,
        r#"{"error":{"type":"index_not_found_exception","reason":"no such index [x]"},"status":404}"#,
    );
    assert_eq!(
        (missing.status(), missing.error_type()),
        (404, "index_not_found")
    );
    assert_eq!(missing.to_string(), "no such index [x]");
}

#[test]
fn the_deepest_cause_with_a_reason_explains_an_empty_root_cause() {
    // Elasticsearch 9.5's answer to a histogram of too many buckets.
    let body = r#"{"error":{"root_cause":[],"type":"search_phase_execution_exception","reason":"","phase":"fetch","grouped":true,"failed_shards":[],"caused_by":{"type":"too_many_buckets_exception","reason":"Trying to create too many buckets. Must be less than or equal to: [65536] but this number of buckets was exceeded.","max_buckets":65536}},"status":400}"#;
    let error = elasticsearch_error(400, body);
    assert_eq!(error.error_type(), "too_many_buckets_exception");
    assert!(error.to_string().contains("[65536]"), "{error}");
}

#[test]
fn building_makes_no_network_call() {
    // Port 1 is closed: building must still succeed, since nothing is sent yet.
    let config = Config::from_lookup(|k| (k == "HOST").then(|| "127.0.0.1:1".to_string())).unwrap();
    let client = EsClient::new(&config).unwrap();
    assert_eq!(client.host(), "http://127.0.0.1:1");
}

#[test]
fn a_missing_ca_cert_names_the_variable() {
    let config =
        Config::from_lookup(|k| (k == "ES_CA_CERT").then(|| "/nonexistent/ca.pem".to_string()))
            .unwrap();
    let error = EsClient::new(&config).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("ES_CA_CERT: cannot read /nonexistent/ca.pem"),
        "{error}"
    );
}

#[test]
fn debug_never_shows_credentials() {
    for (variable, value) in [
        ("ES_PASSWORD", "pw-5e1f0c"),
        ("ES_API_KEY", "a2V5LTVlMWYwYw"),
    ] {
        let config = Config::from_lookup(|k| match k {
            "ES_USERNAME" if variable == "ES_PASSWORD" => Some("elastic".to_string()),
            k if k == variable => Some(value.to_string()),
            _ => None,
        })
        .unwrap();
        let shown = format!("{:?}", EsClient::new(&config).unwrap());
        assert!(!shown.contains(value), "{variable}: {shown}");
    }
}

#[test]
fn a_certificate_rustls_refused_is_a_tls_error_however_deeply_wrapped() {
    let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
    let wrapped = std::io::Error::other(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        refused,
    ));
    let tls = tls_failure(&wrapped).expect("rustls's error inside an io::Error");
    let reason = describe_tls(tls);
    assert!(
        reason.starts_with("certificate verification failed"),
        "{reason}"
    );
    assert!(reason.contains("ES_CA_CERT"), "{reason}");
    let refused_connection = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    assert!(tls_failure(&refused_connection).is_none());
}
