//! Simulated power loss at thousands of seeded crash points.
//!
//! Each case runs a random workload on the simulated disk — appends of random sizes under
//! `Batch`, syncs at random points, snapshots, pruning, and small segments so records rotate
//! often — then cuts the power: the disk keeps its durable image plus a random subset of the
//! dirty pages, each possibly torn at 512-byte sectors. Reopening must recover every acknowledged
//! record byte for byte, as a contiguous prefix of what was appended (never garbage); new appends
//! must then work and survive a second power cut. A record counts as acknowledged once a `sync`
//! covering it returned (or a snapshot covering it was written), and everything recovery returned
//! counts as acknowledged too, since the engine has replayed it.
//!
//! `BETBET_CRASH_POINTS` sets the number of cases (default 3000). Fails with
//! `--features broken-skip-sync`.

use betbet_journal::{Durability, Journal, Options, Recovery, SimStorage, Storage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What the cases exercised, so a run that quietly tests nothing is caught.
#[derive(Debug, Default)]
struct Coverage {
    opens: u64,
    truncations: u64,
    segments_dropped: u64,
    multi_segment_recoveries: u64,
    pruned_recoveries: u64,
    snapshot_recoveries: u64,
    records_recovered: u64,
}

#[derive(Default)]
struct Model {
    /// Payload of every appended record, by seq - 1.
    payloads: Vec<Vec<u8>>,
    /// Highest acknowledged seq.
    acked: u64,
    /// Seq of the last snapshot written.
    snapshot: Option<u64>,
}

fn state_bytes(seq: u64, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut crc = 0u32;
    for payload in &payloads[..seq as usize] {
        crc = crc32c::crc32c_append(crc, payload);
    }
    let mut out = seq.to_le_bytes().to_vec();
    out.extend_from_slice(&crc.to_le_bytes());
    out.resize(12 + (seq % 200) as usize, 0xab);
    out
}

fn check<S: Storage>(
    case: u64,
    journal: &Journal<S>,
    recovery: &Recovery,
    model: &mut Model,
    coverage: &mut Coverage,
) {
    coverage.opens += 1;
    coverage.records_recovered += recovery.last_seq + 1 - recovery.first_seq;
    if let Some(truncated) = &recovery.truncated {
        coverage.truncations += 1;
        coverage.segments_dropped += truncated.segments_dropped.len() as u64;
    }
    coverage.multi_segment_recoveries += u64::from(recovery.segments > 1);
    coverage.pruned_recoveries += u64::from(recovery.first_seq > 1);
    coverage.snapshot_recoveries += u64::from(recovery.snapshot.is_some());
    assert!(
        recovery.last_seq >= model.acked,
        "case {case}: acknowledged seq {} lost, recovered only up to {} ({:?})",
        model.acked,
        recovery.last_seq,
        recovery.truncated
    );
    assert!(
        recovery.last_seq as usize <= model.payloads.len(),
        "case {case}: records from nowhere"
    );
    match (model.snapshot, &recovery.snapshot) {
        (None, None) => {}
        (Some(seq), Some(snapshot)) => {
            assert_eq!(snapshot.seq, seq, "case {case}: newest snapshot");
            assert_eq!(
                snapshot.bytes,
                state_bytes(seq, &model.payloads),
                "case {case}: snapshot bytes"
            );
        }
        (expected, found) => panic!("case {case}: snapshot {expected:?} expected, found {found:?}"),
    }
    let snapshot_seq = recovery.snapshot.as_ref().map_or(0, |s| s.seq);
    assert!(
        recovery.first_seq <= snapshot_seq + 1,
        "case {case}: records after the snapshot pruned"
    );
    let mut next = recovery.first_seq;
    journal
        .replay_from(recovery.first_seq - 1, |seq, bytes| {
            assert_eq!(seq, next, "case {case}: replay is contiguous");
            assert_eq!(
                bytes,
                &model.payloads[seq as usize - 1][..],
                "case {case}: seq {seq} bytes"
            );
            next += 1;
        })
        .unwrap();
    assert_eq!(
        next,
        recovery.last_seq + 1,
        "case {case}: replay reaches the recovered end"
    );
    model.payloads.truncate(recovery.last_seq as usize);
    // The engine has now seen these records, so from here on they must never disappear.
    model.acked = recovery.last_seq;
}

fn workload<S: Storage>(rng: &mut StdRng, journal: &mut Journal<S>, model: &mut Model) {
    let max = journal.options().payload_max();
    for _ in 0..rng.gen_range(1..160) {
        match rng.gen_range(0..100) {
            0..=69 => {
                let len = if rng.gen_ratio(1, 20) {
                    rng.gen_range(1..=max)
                } else {
                    rng.gen_range(1..1500)
                };
                let mut payload = vec![0u8; len];
                rng.fill(&mut payload[..]);
                let seq = journal.append(&payload).unwrap();
                assert_eq!(seq as usize, model.payloads.len() + 1);
                model.payloads.push(payload);
            }
            70..=89 => model.acked = journal.sync().unwrap(),
            90..=95 => {
                let last = journal.last_seq();
                let low = model.snapshot.unwrap_or(0);
                if last > low {
                    let seq = rng.gen_range(low + 1..=last);
                    journal
                        .write_snapshot(seq, &state_bytes(seq, &model.payloads))
                        .unwrap();
                    model.acked = model.acked.max(seq);
                    model.snapshot = Some(seq);
                }
            }
            _ => {
                journal.prune().unwrap();
            }
        }
    }
}

fn run_case(case: u64, coverage: &mut Coverage) {
    let mut rng = StdRng::seed_from_u64(case);
    let segment_bytes = if rng.gen_bool(0.5) { 8 << 10 } else { 16 << 10 };
    let options = Options {
        durability: Durability::Batch,
        segment_bytes,
        snapshots_retained: 2,
    };
    let mut model = Model::default();
    let mut disk = SimStorage::new();
    for round in 0..2u64 {
        let (mut journal, recovery) = Journal::open(disk.clone(), options.clone())
            .unwrap_or_else(|e| panic!("case {case} round {round}: open failed: {e}"));
        check(case, &journal, &recovery, &mut model, coverage);
        workload(&mut rng, &mut journal, &mut model);
        disk = disk.crash_image(case.wrapping_mul(0x9e37_79b9).wrapping_add(round));
    }
    let (journal, recovery) = Journal::open(disk, options)
        .unwrap_or_else(|e| panic!("case {case} final: open failed: {e}"));
    check(case, &journal, &recovery, &mut model, coverage);
}

#[test]
fn acknowledged_records_survive_power_loss_at_every_crash_point() {
    let cases: u64 = std::env::var("BETBET_CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut coverage = Coverage::default();
    for case in 0..cases {
        run_case(case, &mut coverage);
    }
    eprintln!("{cases} cases: {coverage:?}");
    if cases >= 200 {
        // Torn tails, dropped segments, multi-segment logs, pruned logs and snapshots must all
        // have come up, or the workload has stopped testing what it claims to.
        assert!(coverage.truncations * 10 > coverage.opens, "{coverage:?}");
        assert!(coverage.segments_dropped > 0, "{coverage:?}");
        assert!(
            coverage.multi_segment_recoveries * 4 > coverage.opens,
            "{coverage:?}"
        );
        assert!(coverage.pruned_recoveries > 0, "{coverage:?}");
        assert!(coverage.snapshot_recoveries > 0, "{coverage:?}");
    }
}
