//! `betbet-journal-stress DIR SEED RUN_MS`: appends batches of deterministic records to the
//! journal in DIR under `Batch` durability and prints `ack N` (flushed) once a sync covering
//! every record up to N returned. The process-kill test SIGKILLs it at random moments and checks
//! that every acknowledged record survived. It also writes snapshots and prunes now and then, so
//! kills land in those paths too. It stops by itself after RUN_MS milliseconds.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use betbet_journal::{Journal, stress};

fn run(dir: &str, seed: u64, run_ms: u64) -> Result<(), Box<dyn std::error::Error>> {
    let (mut journal, recovery) = Journal::open_dir(dir, stress::options())?;
    let mut out = io::stdout().lock();
    writeln!(out, "open {}", recovery.last_seq)?;
    out.flush()?;
    let deadline = Instant::now() + Duration::from_millis(run_ms);
    let mut rng = seed | 1;
    let mut payload = Vec::with_capacity(stress::PAYLOAD_BYTES_MAX);
    let mut batches = 0u64;
    while Instant::now() < deadline {
        // xorshift64: batch sizes only need to vary, not to be good random numbers.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let first = journal.last_seq() + 1;
        let last = first + rng % 64;
        #[cfg(feature = "broken-early-ack")]
        {
            // Deliberately broken build: acknowledge before the records are even written.
            writeln!(out, "ack {last}")?;
            out.flush()?;
        }
        for seq in first..=last {
            stress::payload(seq, &mut payload);
            let appended = journal.append(&payload)?;
            assert_eq!(appended, seq, "the journal assigns contiguous seqs");
        }
        let durable = journal.sync()?;
        assert!(
            durable >= last,
            "sync returned before covering every appended record"
        );
        #[cfg(not(feature = "broken-early-ack"))]
        {
            writeln!(out, "ack {last}")?;
            out.flush()?;
        }
        batches += 1;
        if batches.is_multiple_of(16) {
            journal.write_snapshot(last, &stress::snapshot_state(last))?;
            journal.prune()?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parsed = match args.as_slice() {
        [_, dir, seed, run_ms] => seed
            .parse::<u64>()
            .ok()
            .zip(run_ms.parse::<u64>().ok())
            .map(|p| (dir, p)),
        _ => None,
    };
    let Some((dir, (seed, run_ms))) = parsed else {
        eprintln!("usage: betbet-journal-stress DIR SEED RUN_MS");
        return ExitCode::from(2);
    };
    match run(dir, seed, run_ms) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("betbet-journal-stress: {e}");
            ExitCode::FAILURE
        }
    }
}
