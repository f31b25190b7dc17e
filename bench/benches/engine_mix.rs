//! `engine_mix`: the full `Engine::apply` — risk checks, book, positions, ledger and events —
//! over one million seeded commands (≈60 % passive orders, 30 % cancels, 10 % marketable),
//! replayed on a clone of the same starting engine each iteration.
//!
//! Two functions: `throughput` (criterion, commands per second) and `latency` (every
//! command timed on its own into an hdrhistogram; p50 / p99 / p99.99 / max are printed).
//! The latency figures include the ~20 ns cost of reading the clock twice.
//!
//! Run: `cargo bench -p betbet-bench --bench engine_mix`

use betbet_bench::mix;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::time::{Duration, Instant};

const COMMANDS: usize = 1_000_000;

fn engine_mix(c: &mut Criterion) {
    let workload = mix::build(0xBE7_BE7, COMMANDS);
    eprintln!(
        "engine_mix workload: {} places, {} cancels, {} marketable",
        workload.places, workload.cancels, workload.marketable
    );
    let mut group = c.benchmark_group("engine_mix");
    group.throughput(Throughput::Elements(COMMANDS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("throughput", |b| {
        b.iter_batched(
            || {
                let mut engine = workload.engine.clone();
                engine.reserve_arenas();
                (engine, Vec::with_capacity(1 << 12))
            },
            |(mut engine, mut out)| {
                for (command, ctx) in &workload.commands {
                    out.clear();
                    std::hint::black_box(engine.apply(command, ctx, &mut out));
                }
                engine
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("latency", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            let mut histogram = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 10_000_000, 3)
                .expect("histogram bounds");
            for _ in 0..iterations {
                let mut engine = workload.engine.clone();
                engine.reserve_arenas();
                let mut out = Vec::with_capacity(1 << 12);
                for (command, ctx) in &workload.commands {
                    out.clear();
                    let start = Instant::now();
                    std::hint::black_box(engine.apply(command, ctx, &mut out));
                    let elapsed = start.elapsed();
                    total += elapsed;
                    histogram.saturating_record(elapsed.as_nanos() as u64);
                }
            }
            eprintln!(
                "engine_mix latency per command: p50 {} ns, p99 {} ns, p99.99 {} ns, max {} ns ({} samples)",
                histogram.value_at_quantile(0.50),
                histogram.value_at_quantile(0.99),
                histogram.value_at_quantile(0.9999),
                histogram.max(),
                histogram.len()
            );
            total
        })
    });
    group.finish();
}

criterion_group!(benches, engine_mix);
criterion_main!(benches);
