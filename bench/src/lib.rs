//! BetBet benchmarks and the load generator.
//!
//! [`mix`] builds the seeded engine workload of the `engine_mix` criterion bench, [`games`]
//! the live crash rounds of `game_tick`.

pub mod games;
pub mod mix;

/// Now, in microseconds since the epoch (the core's `Timestamp` unit): the load generator
/// times trades against it, and `betbet-ws-echo` stamps its market data with it.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
