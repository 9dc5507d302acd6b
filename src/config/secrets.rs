//! Credentials: a password or an API key from its variable, or from the file its `_FILE`
//! variable names (a Kubernetes Secret mounted as a volume), with the same checks either way.
//! Nothing here ever shows a secret: messages name the variable, and a file by its path.

use std::fmt;
use std::io::Read;
use std::path::Path;

use super::Credentials;
use crate::error::Error;

/// A string that never shows itself in `Debug` or `Display` output, and the variable it came
/// from, which messages name instead.
#[derive(Clone, PartialEq)]
pub struct Secret {
    value: String,
    source: &'static str,
}

impl Secret {
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The variable that set it: `ES_PASSWORD` or `ES_PASSWORD_FILE`, `ES_API_KEY` or
    /// `ES_API_KEY_FILE`.
    pub fn source(&self) -> &'static str {
        self.source
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The most bytes a secret file may hold: a password or an API key is far smaller, and a
/// variable pointed at something else (a log, a device) must not fill memory.
pub(crate) const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Credentials from `ES_USERNAME` with `ES_PASSWORD` or `ES_PASSWORD_FILE`, or from `ES_API_KEY`
/// or `ES_API_KEY_FILE`; files read through `read`.
pub(super) fn credentials(
    get: &impl Fn(&str) -> Option<String>,
    read: &impl Fn(&Path) -> std::io::Result<String>,
) -> Result<Option<Credentials>, Error> {
    let password = secret(get, read, "ES_PASSWORD", "ES_PASSWORD_FILE")?;
    let api_key = secret(get, read, "ES_API_KEY", "ES_API_KEY_FILE")?;
    match (get("ES_USERNAME"), password, api_key) {
        (Some(_), _, Some(key)) => Err(Error::config(
            key.source,
            format!(
                "set either {} or ES_USERNAME/ES_PASSWORD, not both",
                key.source
            ),
        )),
        (Some(username), Some(password), None) => {
            Ok(Some(Credentials::Basic { username, password }))
        }
        (Some(_), None, None) => Err(Error::config(
            "ES_PASSWORD",
            "is required when ES_USERNAME is set: set it, or ES_PASSWORD_FILE",
        )),
        (None, Some(password), _) => Err(Error::config(
            "ES_USERNAME",
            format!("is required when {} is set", password.source),
        )),
        (None, None, Some(key)) => Ok(Some(Credentials::ApiKey(header_safe_api_key(key)?))),
        (None, None, None) if get("ES_CLOUD_ID").is_some() => Err(Error::config(
            "ES_CLOUD_ID",
            "needs ES_API_KEY or ES_USERNAME/ES_PASSWORD",
        )),
        (None, None, None) => Ok(None),
    }
}

/// A secret from its variable, or from the file its `_FILE` variable names (a Kubernetes
/// Secret mounted as a volume), never both. A file's one trailing newline (`\n` or `\r\n`)
/// is dropped, as `echo` and editors add one; an empty file is refused, as an empty variable would be unset and a
/// deployment that names a file means to set the secret.
fn secret(
    get: &impl Fn(&str) -> Option<String>,
    read: &impl Fn(&Path) -> std::io::Result<String>,
    variable: &'static str,
    file_variable: &'static str,
) -> Result<Option<Secret>, Error> {
    match (get(variable), get(file_variable)) {
        (Some(_), Some(_)) => Err(Error::config(
            file_variable,
            format!("set either {variable} or {file_variable}, not both"),
        )),
        (Some(value), None) => Ok(Some(Secret {
            value,
            source: variable,
        })),
        (None, Some(path)) => {
            // Named by its path only: an error never shows what the file holds.
            let path = Path::new(&path);
            let text = read(path).map_err(|e| {
                Error::config(
                    file_variable,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            // One line end, as `echo` and editors leave: what is before it is the secret.
            let value = text.strip_suffix('\n').unwrap_or(&text);
            let value = value.strip_suffix('\r').unwrap_or(value);
            if value.is_empty() {
                return Err(Error::config(
                    file_variable,
                    format!("{} is empty", path.display()),
                ));
            }
            Ok(Some(Secret {
                value: value.to_string(),
                source: file_variable,
            }))
        }
        (None, None) => Ok(None),
    }
}

/// A secret file's text, at most [`MAX_SECRET_FILE_BYTES`]. The errors name the failure, never
/// the contents: invalid UTF-8 is reported as such.
pub(super) fn read_secret_file(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "it holds more than {MAX_SECRET_FILE_BYTES} bytes, too many for a secret"
        )));
    }
    Ok(text)
}

/// An API key travels as a header value, which the client would otherwise panic on at the first
/// request. Base64 has no whitespace, so the trailing newline a secret file often brings is
/// dropped; anything else a header cannot carry is refused, without showing the key.
fn header_safe_api_key(key: Secret) -> Result<Secret, Error> {
    let trimmed = key.value.trim();
    if trimmed.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(Secret {
            value: trimmed.to_string(),
            source: key.source,
        })
    } else {
        Err(Error::config(
            key.source,
            "contains spaces or control characters, which an HTTP header cannot carry",
        ))
    }
}

#[cfg(test)]
mod tests;
