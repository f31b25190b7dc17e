//! `game_tick`: one `Tick` of 10 000 live crash rounds at 20 Hz, all due at once — the game
//! loop's worst case (every round rises, re-arms its timer and emits its public view for
//! the sockets). 20 Hz leaves 50 ms a tick; the figure is how much of it one tick takes.
//!
//! Each iteration applies the first tick to a clone of the same starting engine (a few
//! rounds crash at it, as they would: 1.03× is reached by then).
//!
//! Run: `cargo bench -p betbet-bench --bench game_tick`

use betbet_bench::games;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

const SESSIONS: usize = 10_000;

fn game_tick(c: &mut Criterion) {
    let rounds = games::build(SESSIONS);
    let mut group = c.benchmark_group("game_tick");
    group.throughput(Throughput::Elements(SESSIONS as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(20));
    for k in [1u32, 20] {
        let (tick, ctx) = rounds.tick(k);
        group.bench_function(format!("10k_crash_rounds_tick_{k}"), |b| {
            b.iter_batched(
                || {
                    let mut engine = rounds.engine.clone();
                    let mut out = Vec::with_capacity(SESSIONS * 2);
                    // Bring the rounds to the tick before the measured one.
                    for earlier in 1..k {
                        let (command, ctx) = rounds.tick(earlier);
                        out.clear();
                        engine.apply(&command, &ctx, &mut out);
                    }
                    out.clear();
                    (engine, out)
                },
                |(mut engine, mut out)| {
                    std::hint::black_box(engine.apply(&tick, &ctx, &mut out));
                    (engine, out)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, game_tick);
criterion_main!(benches);
