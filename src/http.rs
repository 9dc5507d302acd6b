//! The HTTP layer, shared by every door. In the order a function call meets it:
//!
//! - [`serve`] serves the Router on a socket, and bounds each connection (`stall`: a write
//!   that cannot go out); the Lambda door hands the same Router to the Lambda runtime instead;
//! - [`app`] is the Router: its routes, and the one list of what wraps a function call;
//! - `call_layer` wraps each call: its identity (`identity`), its `metrics` and log lines,
//!   CORS (`cors`) and `Vary`;
//! - `body` reads the request's body within its deadline, and [`shed`] refuses calls beyond
//!   `MAX_IN_FLIGHT`;
//! - the function reads its parameters ([`params`], or a CloudEvent's: `cloudevent`) and the
//!   caller's choice of format and coding ([`negotiate`]), and answers, weighing the answer's
//!   entity tag against the request's `conditional` headers.

pub mod app;
mod body;
mod call_layer;
mod cloudevent;
mod conditional;
pub(crate) mod cors;
pub(crate) mod identity;
pub(crate) mod metrics;
pub mod negotiate;
pub mod params;
pub mod serve;
pub mod shed;
mod stall;
