//! The parameters an HTTP call carries, as name/value pairs for [`crate::query`]: its query
//! string's, then its JSON body's or its CloudEvent's data's.

use serde_json::Value;

use crate::error::Error;

/// Turns a query string (without its `?`) into parameters, decoded as an HTML form is.
pub fn params_from_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Turns a JSON body (a Kubeless event's data, a Lambda payload) into parameters. An empty
/// body has none; anything but a JSON object of plain values is a 400 naming `body`.
pub fn params_from_json(body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Error::bad_request("body", format!("is not valid JSON: {e}")))?;
    params_from_value(value)
}

/// The parameters a JSON value carries: an object of strings, numbers and booleans.
pub(crate) fn params_from_value(value: Value) -> Result<Vec<(String, String)>, Error> {
    let Value::Object(object) = value else {
        return Err(Error::bad_request(
            "body",
            "must be a JSON object of parameters",
        ));
    };
    object
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(text) => Ok((name, text)),
            Value::Number(number) => Ok((name, number.to_string())),
            Value::Bool(flag) => Ok((name, flag.to_string())),
            _ => Err(Error::bad_request(
                name,
                "must be a string, a number or a boolean",
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn json_bodies_carry_parameters() {
        assert_eq!(params_from_json(b"").unwrap(), vec![]);
        assert_eq!(params_from_json(b" \n").unwrap(), vec![]);
        let params = params_from_json(br#"{"hours":6,"format":"csv","fill":true}"#).unwrap();
        assert_eq!(
            params,
            vec![
                ("hours".into(), "6".into()),
                ("format".into(), "csv".into()),
                ("fill".into(), "true".into())
            ]
        );
        for bad in [
            &b"{not json"[..],
            b"[1]",
            b"42",
            br#"{"hours":[1]}"#,
            br#"{"hours":null}"#,
        ] {
            let error = params_from_json(bad).unwrap_err();
            assert_eq!(error.status(), 400, "{error}");
        }
    }

    #[test]
    fn query_strings_are_decoded_as_forms() {
        assert_eq!(
            params_from_query("hours=6&field=a%2Eb+c&fill"),
            [("hours", "6"), ("field", "a.b c"), ("fill", "")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(params_from_query("").is_empty());
    }

    proptest! {
        #[test]
        fn query_strings_decode_to_what_was_encoded(
            pairs in proptest::collection::vec((".{0,8}", ".{0,8}"), 0..5),
        ) {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            prop_assert_eq!(params_from_query(&query), pairs);
        }
    }
}
