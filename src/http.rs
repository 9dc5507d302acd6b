//! The HTTP layer, shared by every door: the axum Router ([`app`]) with its CloudEvents
//! ([`cloudevent`]) and Kubeless's metrics ([`metrics`]), and serving it on a socket ([`serve`]).
//! The Lambda door hands the same Router to the Lambda runtime instead of a socket.

pub mod app;
pub mod cloudevent;
pub mod metrics;
pub mod serve;
