//! Postgres projections of the core's event stream.
//!
//! This crate will consume the engine's event stream and write tables shaped after the
//! product spec's schemas, recording the last applied journal sequence in the same
//! transaction so a projection is exactly-once and can be rebuilt from the journal.
//! It is filled by the projections issue; until then it exports nothing, so nothing can
//! depend on behaviour that does not exist yet.
