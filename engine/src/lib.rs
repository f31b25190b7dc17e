//! BetBet core: the deterministic state machine and the runtime thread around it.
