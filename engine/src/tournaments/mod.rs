//! Tournaments: their formats, prizes and the skill ratings that seed them.
//!
//! - `bracket`: each format as a graph of matches whose sides name where their players
//!   come from, results and standings with tiebreaks;
//! - `prizes`: a pool paid out by a distribution of places, ties splitting exactly;
//! - `rating`: Glicko-2 in fixed-point integers, one rating per player and game.
//!
//! All three are pure and deterministic, so the engine can keep their state in its
//! snapshot and replay reaches the same brackets, payouts and ratings.

pub mod bracket;
pub mod prizes;
pub mod rating;

#[cfg(test)]
mod tests;
