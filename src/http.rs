//! The HTTP layer, shared by every door: the axum Router ([`app`]), each call's identity
//! ([`identity`]), the parameters a call carries ([`params`]), CloudEvents (`cloudevent`),
//! Kubeless's metrics (`metrics`) and what every function answer gets on its way out (`track`:
//! metrics, the `call` line, CORS, `Vary`), load shedding beyond `MAX_IN_FLIGHT` ([`shed`]), the
//! caller's choice of [`compression`], the preconditions on the answers' [`etag`]s, and serving
//! the Router on a socket ([`serve`]).
//! The Lambda door hands the same Router to the Lambda runtime instead of a socket.

pub mod app;
pub mod body;
mod call_layer;
mod cloudevent;
pub mod compression;
pub(crate) mod cors;
pub mod etag;
pub mod identity;
mod metrics;
pub mod params;
pub mod serve;
pub mod shed;
mod stall;
