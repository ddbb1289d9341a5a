//! Outbound reads the event stream and tells the world: signed webhooks (delivery and the network
//! guard) and the gas watch. It may use every other room; no room uses it.

pub mod fan_out;
pub mod gas_watch;
pub mod net;
pub mod webhooks;
