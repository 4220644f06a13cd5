//! The integration tests, in one binary so the crate and its dependencies
//! are linked once (one module per area; `common` holds the shared loopback
//! feed server and the runner for the real `feedwatch` binary).
//!
//! Run one area with `cargo test --test it AREA::` (e.g. `folding::`).

mod api;
mod archive;
mod backends;
mod cli;
mod common;
mod conformance;
mod crash;
mod desk;
mod digests;
mod entities;
mod folding;
mod full_text;
mod hostile;
mod instances;
mod langid;
mod migrate;
mod pipeline;
mod polling;
mod query_properties;
mod readers;
mod resilience;
mod scheduling;
mod secrets;
mod service;
mod store;
mod store_archive;
mod store_feeds;
mod store_items;
mod stories;
mod topics;
