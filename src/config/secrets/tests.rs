//! Secrets from variables and from files, through real files in a directory of the test's own.
use std::path::PathBuf;

use crate::config::tests::config;
use crate::config::{Config, Credentials, Env};
use crate::error::Error;

/// A fresh directory for one test's files, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("wx-stats-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    /// Writes `contents` to `name` and returns its path as text, for a `_FILE` variable.
    fn file(&self, name: &str, contents: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The variable and the message of the config error `vars` give.
fn refused(vars: &[(&str, &str)]) -> (&'static str, String) {
    match config(vars) {
        Err(error @ Error::Config { variable, .. }) => (variable, error.to_string()),
        other => panic!("expected a config error for {vars:?}, got {other:?}"),
    }
}

fn password(config: &Config) -> (&str, &'static str) {
    match &config.credentials {
        Some(Credentials::Basic { password, .. }) => (password.expose(), password.source()),
        other => panic!("expected basic credentials, got {other:?}"),
    }
}

#[test]
fn a_password_file_is_read_without_its_trailing_newline() {
    let dir = Dir::new("password-file");
    for (contents, expected) in [
        (&b"s3cret\n"[..], "s3cret"),
        (b"s3cret\r\n", "s3cret"),
        (b"s3cret", "s3cret"),
        // Spaces may be part of a password: only the one line end is dropped.
        (b" s3 cret \n", " s3 cret "),
        (b"s3cret\n\n", "s3cret\n"),
    ] {
        let path = dir.file("password", contents);
        let c = config(&[("ES_USERNAME", "elastic"), ("ES_PASSWORD_FILE", &path)]).unwrap();
        assert_eq!(password(&c), (expected, "ES_PASSWORD_FILE"), "{contents:?}");
    }
    let c = config(&[("ES_USERNAME", "elastic"), ("ES_PASSWORD", "s3cret")]).unwrap();
    assert_eq!(password(&c), ("s3cret", "ES_PASSWORD"));
}

#[test]
fn an_api_key_file_is_read_and_checked_as_the_variable_is() {
    let dir = Dir::new("api-key-file");
    let path = dir.file("api-key", b"a2V5\n");
    let c = config(&[("ES_API_KEY_FILE", &path)]).unwrap();
    assert!(
        matches!(c.credentials, Some(Credentials::ApiKey(ref k)) if k.expose() == "a2V5" && k.source() == "ES_API_KEY_FILE")
    );
    let bad = dir.file("bad-key", b"a2 V5-marker\n");
    let (variable, message) = refused(&[("ES_API_KEY_FILE", &bad)]);
    assert_eq!(variable, "ES_API_KEY_FILE");
    assert!(!message.contains("marker"), "{message}");
}

#[test]
fn a_variable_and_its_file_together_are_refused_naming_both() {
    let dir = Dir::new("both");
    let path = dir.file("secret", b"s3cret\n");
    for (variable, file_variable) in [
        ("ES_PASSWORD", "ES_PASSWORD_FILE"),
        ("ES_API_KEY", "ES_API_KEY_FILE"),
    ] {
        let (at_fault, message) = refused(&[
            ("ES_USERNAME", "elastic"),
            (variable, "s3cret"),
            (file_variable, &path),
        ]);
        assert_eq!(at_fault, file_variable);
        assert!(message.contains(variable), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}

#[test]
fn an_unreadable_or_empty_file_is_refused_naming_the_variable_and_the_path() {
    let dir = Dir::new("unreadable");
    let missing = dir.0.join("missing").to_str().unwrap().to_string();
    let directory = dir.0.to_str().unwrap().to_string();
    let empty = dir.file("empty", b"\n");
    let not_text = dir.file("not-text", b"s3cret\xff\xfe");
    let huge = dir.file("huge", &vec![b'x'; 64 * 1024 + 1]);
    for (path, why) in [
        (&missing, "No such file"),
        (&directory, "directory"),
        (&empty, "is empty"),
        (&not_text, "UTF-8"),
        (&huge, "more than 65536 bytes"),
    ] {
        for file_variable in ["ES_PASSWORD_FILE", "ES_API_KEY_FILE"] {
            let (variable, message) =
                refused(&[("ES_USERNAME", "elastic"), (file_variable, path.as_str())]);
            assert_eq!(variable, file_variable, "{message}");
            assert!(message.contains(path.as_str()), "{message}");
            assert!(message.contains(why), "{why}: {message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
    }
}

#[test]
fn a_password_file_needs_a_user_name_as_the_variable_does() {
    let dir = Dir::new("no-user");
    let path = dir.file("password", b"s3cret\n");
    let (variable, message) = refused(&[("ES_PASSWORD_FILE", &path)]);
    assert_eq!(variable, "ES_USERNAME");
    assert!(message.contains("ES_PASSWORD_FILE"), "{message}");
}

#[test]
fn no_file_is_read_unless_a_file_variable_names_one() {
    let lookup = |k: &str| match k {
        "ES_USERNAME" => Some("elastic".to_string()),
        "ES_PASSWORD" => Some("s3cret".to_string()),
        "ES_PASSWORD_FILE" | "ES_API_KEY_FILE" => Some(String::new()),
        _ => None,
    };
    let read = |path: &std::path::Path| -> std::io::Result<String> {
        panic!("{} was read", path.display())
    };
    let c = Config::from_env_with_files(&Env::new(lookup), read).unwrap();
    assert_eq!(password(&c), ("s3cret", "ES_PASSWORD"));
}
