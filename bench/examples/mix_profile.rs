//! Runs the engine_mix workload a few times without criterion, for profilers:
//! `perf record -e cpu-clock -g target/release/examples/mix_profile`.

use betbet_bench::mix;
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
    let workload = mix::build(0xBE7_BE7, commands);
    for _ in 0..rounds {
        let mut engine = workload.engine.clone();
        engine.reserve_arenas();
        let mut out = Vec::with_capacity(1 << 12);
        let start = Instant::now();
        for (command, ctx) in &workload.commands {
            out.clear();
            std::hint::black_box(engine.apply(command, ctx, &mut out));
        }
        let elapsed = start.elapsed();
        println!(
            "{} commands in {:?}: {:.2} M/s",
            commands,
            elapsed,
            commands as f64 / elapsed.as_secs_f64() / 1e6
        );
    }
}
