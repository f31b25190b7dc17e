//! Determinism: snapshot + replay of the later journal reproduces the live run's state hash.

use super::*;
use crate::tests::model::random_workload;

/// Applies `entries` (journal records from seq `first_seq`) to `engine`, as a restart does.
pub(super) fn replay(engine: &mut Engine, entries: &[JournalEntry], first_seq: u64) {
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let ctx = Ctx {
            at: entry.at,
            seed: entry.seed,
            seq: first_seq + i as u64,
        };
        out.clear();
        engine.apply(&entry.command, &ctx, &mut out);
    }
}

#[test]
fn restore_plus_replay_matches_the_live_run_over_many_seeds() {
    for seed in 0..40u64 {
        let mut world = World::new();
        world.verify_rejections = false;
        let cut = random_workload(&mut world, seed, 400);
        // A fresh engine fed the journal, snapshotted at `cut`…
        let mut live = Engine::new(Limits::default());
        let mut out = Vec::new();
        let mut snapshot = None;
        for (i, entry) in world.journal.iter().enumerate() {
            if i == cut {
                snapshot = Some(live.snapshot());
            }
            let ctx = Ctx {
                at: entry.at,
                seed: entry.seed,
                seq: i as u64 + 1,
            };
            out.clear();
            live.apply(&entry.command, &ctx, &mut out);
        }
        let live_hash = live.state_hash();
        assert_eq!(
            live_hash,
            world.engine.state_hash(),
            "seed {seed}: journal replay from empty"
        );
        let mut restored = Engine::restore(&snapshot.expect("cut inside the journal")).unwrap();
        replay(&mut restored, &world.journal[cut..], cut as u64 + 1);
        assert_eq!(
            restored.state_hash(),
            live_hash,
            "seed {seed}: snapshot + replay"
        );
        restored.check();
    }
}

#[test]
fn a_snapshot_round_trips_byte_for_byte() {
    let mut world = World::new();
    world.verify_rejections = false;
    random_workload(&mut world, 7, 600);
    let bytes = world.engine.snapshot();
    let restored = Engine::restore(&bytes).unwrap();
    assert_eq!(restored.snapshot(), bytes);
}

#[test]
fn a_damaged_snapshot_is_refused_not_misread() {
    let mut world = World::new();
    world.verify_rejections = false;
    random_workload(&mut world, 3, 100);
    let bytes = world.engine.snapshot();
    assert!(Engine::restore(&bytes[..bytes.len() - 1]).is_err());
    let mut bad_version = bytes.clone();
    bad_version[8] = 99;
    assert!(matches!(
        Engine::restore(&bad_version),
        Err(crate::snapshot::SnapshotError::Version { .. })
    ));
}

#[test]
fn the_workload_exercises_the_engine() {
    let mut world = World::new();
    world.verify_rejections = false;
    random_workload(&mut world, 11, 2_000);
    let count = |f: &dyn Fn(&Event) -> bool| world.events.iter().filter(|e| f(e)).count();
    let trades = count(&|e| matches!(e, Event::Trade(_)));
    let resolved = count(&|e| matches!(e, Event::MarketResolved(_)));
    let expired = count(
        &|e| matches!(e, Event::OrderUpdated(u) if u.reason == Some(betbet_protocol::event::DoneReason::Expired)),
    );
    eprintln!(
        "trades {trades} resolved {resolved} expired {expired} journal {}",
        world.journal.len()
    );
    assert!(trades > 150 && resolved > 0 && expired > 0);
}
