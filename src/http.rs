//! The HTTP layer, shared by every door: the axum Router ([`app`]), each call's identity
//! ([`identity`]), the parameters a call carries ([`params`]), CloudEvents (`cloudevent`),
//! Kubeless's metrics (`metrics`) and what every function answer gets on its way out (`track`:
//! metrics, the `call` line, CORS, `Vary`), load shedding beyond `MAX_IN_FLIGHT` ([`shed`]), the
//! caller's choice of format and coding ([`negotiate`]), the preconditions on the answers' [`etag`]s, and serving
//! the Router on a socket ([`serve`]).
//! The Lambda door hands the same Router to the Lambda runtime instead of a socket.

pub mod app;
pub mod body;
mod cloudevent;
pub mod etag;
pub mod identity;
mod metrics;
pub mod negotiate;
pub mod params;
pub mod serve;
pub mod shed;
mod stall;
mod track;
