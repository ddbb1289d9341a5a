//! Outbound reads the event stream and tells the world: signed webhooks (delivery and the network
//! guard), the gas watch, and people: inboxes, email and chat, invitation and reset links. It may
//! use every other room; no room uses it.

pub mod chat;
pub mod fan_out;
pub mod figures;
pub mod gas_watch;
pub mod inbox;
pub mod links;
pub mod mail;
pub mod net;
pub mod notices;
pub mod payee_mail;
pub mod periodic;
pub mod rates_feed;
pub mod sender;
pub mod tell;
pub mod webhooks;
