//! Process kill: the real stress binary appends under `Batch` and prints `ack N` after each sync;
//! this test SIGKILLs it at random moments, reopens the journal, and checks that every
//! acknowledged record is present with the bytes derived from its seq, that the recovered log is
//! contiguous and intact, and that the newest snapshot holds the state for its seq. The next cycle
//! runs the binary again on the same directory, so recovery of a killed writer is exercised over
//! and over.
//!
//! `BETBET_KILL_CYCLES` sets the number of cycles (default 200). Fails with
//! `--features broken-early-ack`, where the binary acknowledges before writing.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use betbet_journal::{Journal, stress};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[test]
fn acknowledged_records_survive_sigkill() {
    let cycles: u64 = std::env::var("BETBET_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(0x6b11);
    let mut acked = 0u64;
    let mut truncations = 0u64;
    let mut expected = Vec::new();
    for cycle in 0..cycles {
        let mut child = Command::new(env!("CARGO_BIN_EXE_betbet-journal-stress"))
            .arg(dir.path())
            .arg(cycle.to_string())
            .arg("20000")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Kill anywhere from start-up (recovery) to deep into the append loop.
        thread::sleep(Duration::from_micros(rng.gen_range(0..40_000)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let mut output = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut output)
            .unwrap();
        assert!(
            status.code().is_none(),
            "cycle {cycle}: the stress binary exited by itself: {status}"
        );
        for line in output.lines() {
            if let Some(seq) = line.strip_prefix("ack ") {
                acked = acked.max(seq.parse().unwrap());
            }
        }

        let (journal, recovery) = Journal::open_dir(dir.path(), stress::options())
            .unwrap_or_else(|e| panic!("cycle {cycle}: open failed: {e}"));
        truncations += u64::from(recovery.truncated.is_some());
        assert!(
            recovery.last_seq >= acked,
            "cycle {cycle}: acknowledged seq {acked} lost; recovered up to {} ({:?})",
            recovery.last_seq,
            recovery.truncated
        );
        let snapshot_seq = match &recovery.snapshot {
            Some(snapshot) => {
                assert_eq!(
                    snapshot.bytes,
                    stress::snapshot_state(snapshot.seq),
                    "cycle {cycle}: snapshot"
                );
                snapshot.seq
            }
            None => 0,
        };
        assert!(
            recovery.first_seq <= snapshot_seq + 1,
            "cycle {cycle}: gap after the snapshot"
        );
        let mut next = recovery.first_seq;
        journal
            .replay_from(recovery.first_seq - 1, |seq, bytes| {
                assert_eq!(seq, next, "cycle {cycle}: contiguous replay");
                stress::payload(seq, &mut expected);
                assert_eq!(bytes, &expected[..], "cycle {cycle}: payload of seq {seq}");
                next += 1;
            })
            .unwrap();
        assert_eq!(
            next,
            recovery.last_seq + 1,
            "cycle {cycle}: replay reaches the end"
        );
        // Recovery made everything it kept durable, and the next run builds on it.
        acked = recovery.last_seq;
    }
    assert!(acked > 0, "the stress binary never acknowledged anything");
    eprintln!("{cycles} kill cycles: {acked} records, {truncations} torn tails truncated");
}
