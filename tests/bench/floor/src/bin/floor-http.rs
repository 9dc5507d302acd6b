//! `floor-http`: the floor's handler behind axum on 127.0.0.1:$PORT. `GET /healthz` answers
//! "ok"; `GET /` answers Elasticsearch's status and text as application/json.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

// One thread, as the HTTP doors run.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .expect("PORT must be set to a port number");
    let client = bench_floor::client();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/",
            get(move || {
                let client = client.clone();
                async move {
                    let (status, text) = bench_floor::search(&client).await;
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("cannot bind PORT");
    axum::serve(listener, app).await.expect("server failed");
}
