//! The function itself, the one call every door makes: a parsed request in, a rendered
//! answer out.

use std::time::SystemTime;

use serde_json::Value;

use crate::error::Error;
use crate::es::EsClient;
use crate::query::{StatsQuery, StatsRequest};
use crate::render::{Rendered, render};

/// Asks Elasticsearch the request's question and renders the answer in its format.
pub async fn answer(es: &EsClient, request: &StatsRequest) -> Result<Rendered, Error> {
    let query = &request.query;
    let bounds = if query.fill {
        observed_range(es, query).await?
    } else {
        None
    };
    let text = es
        .search(query.index.as_deref(), &query.body_with_bounds(bounds))
        .await
        .map_err(|error| blame_the_field(error, query))?;
    render(request, text, SystemTime::now())
}

/// The field's lowest and highest value ever observed, so `fill` can keep a steady axis.
async fn observed_range(es: &EsClient, query: &StatsQuery) -> Result<Option<(f64, f64)>, Error> {
    let text = es
        .search(query.index.as_deref(), &query.bounds_body())
        .await
        .map_err(|error| blame_the_field(error, query))?;
    let response: Value = serde_json::from_str(&text)
        .map_err(|e| Error::Internal(format!("Elasticsearch sent invalid JSON: {e}")))?;
    let value = |name: &str| response["aggregations"][name]["value"].as_f64();
    Ok(value("min").zip(value("max")))
}

/// Elasticsearch refusing to aggregate a field the caller chose is the caller's mistake (400);
/// refusing the default field is a server-side problem and stays a 502.
fn blame_the_field(error: Error, query: &StatsQuery) -> Error {
    match error {
        Error::Elasticsearch {
            status: 400,
            reason,
            ..
        } if query.field_requested && reason.contains(&query.field) => Error::bad_request(
            "field",
            format!(
                "Elasticsearch cannot make a histogram of {:?}: {reason}",
                query.field
            ),
        ),
        other => other,
    }
}
