//! A bare axum hello-world on 127.0.0.1:$PORT: GET / answers "hello".
//! The benchmark's floor for an axum server on this machine.

use axum::{Router, routing::get};

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .expect("PORT must be set to a port number");
    let app = Router::new().route("/", get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("cannot bind PORT");
    axum::serve(listener, app).await.expect("server failed");
}
