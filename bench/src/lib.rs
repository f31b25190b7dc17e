//! BetBet benchmarks and the load generator.
//!
//! [`mix`] builds the seeded engine workload of the `engine_mix` criterion bench.

pub mod mix;
