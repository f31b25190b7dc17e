//! End-to-end tests for BetBet live in `tests/tests/`; this library holds the harness they
//! share (starting the real binary, talking to it over real sockets).
