//! `floor-lambda`: the floor's handler under the Lambda runtime (lambda_http). Every invocation
//! answers Elasticsearch's text with status 200 when Elasticsearch answered 200, and otherwise
//! 502 with Elasticsearch's text or the error's.

use lambda_http::{Body, Error, Request, Response, service_fn};

// One thread, as the Lambda door runs.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let client = bench_floor::client();
    lambda_http::run(service_fn(move |_: Request| {
        let client = client.clone();
        async move {
            let (status, text) = bench_floor::search(&client).await;
            let status = if status == 200 { 200 } else { 502 };
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(text))
                .map_err(Error::from)
        }
    }))
    .await
}
