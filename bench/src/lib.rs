//! BetBet benchmarks and the load generator.
