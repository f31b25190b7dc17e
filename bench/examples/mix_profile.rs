//! Runs the engine_mix workload a few times without criterion, for profilers:
//! `perf record -e cpu-clock -g target/release/examples/mix_profile`.
//!
//! Arguments: commands (default 1 000 000), rounds (default 3), and `breakdown` to time every
//! command on its own instead and print the mean, p50 and p99 per kind (the clock reads add
//! ~20 ns each).

use betbet_bench::mix;
use betbet_protocol::command::{Command, TimeInForce};
use betbet_protocol::message::Response;
use std::time::Instant;

fn main() {
    let commands: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let breakdown = std::env::args().nth(3).is_some_and(|a| a == "breakdown");
    let workload = mix::build(0xBE7_BE7, commands);
    for _ in 0..rounds {
        let mut engine = workload.engine.clone();
        engine.reserve_arenas();
        let mut out = Vec::with_capacity(1 << 12);
        if breakdown {
            // Passive places, cancels, marketable places.
            let mut kinds: Vec<hdrhistogram::Histogram<u64>> = (0..3)
                .map(|_| {
                    hdrhistogram::Histogram::new_with_bounds(1, 10_000_000, 3).expect("bounds")
                })
                .collect();
            for (command, ctx) in &workload.commands {
                let kind = match command {
                    Command::PlaceOrder(p) if p.time_in_force == TimeInForce::Gtc => 0,
                    Command::CancelOrder(_) => 1,
                    _ => 2,
                };
                out.clear();
                let start = Instant::now();
                std::hint::black_box(engine.apply(command, ctx, &mut out));
                kinds[kind].saturating_record(start.elapsed().as_nanos() as u64);
            }
            let line = |name: &str, h: &hdrhistogram::Histogram<u64>| {
                format!(
                    "{name} mean {:.0} p50 {} p99 {}",
                    h.mean(),
                    h.value_at_quantile(0.5),
                    h.value_at_quantile(0.99)
                )
            };
            println!(
                "ns: {}; {}; {}",
                line("passive place", &kinds[0]),
                line("cancel", &kinds[1]),
                line("marketable", &kinds[2])
            );
            continue;
        }
        let start = Instant::now();
        let mut rejected = 0u64;
        for (command, ctx) in &workload.commands {
            out.clear();
            let response = std::hint::black_box(engine.apply(command, ctx, &mut out));
            rejected += u64::from(matches!(response, Response::Rejected(_)));
        }
        let elapsed = start.elapsed();
        println!(
            "{} commands in {:?}: {:.2} M/s ({rejected} rejected)",
            commands,
            elapsed,
            commands as f64 / elapsed.as_secs_f64() / 1e6
        );
    }
}
