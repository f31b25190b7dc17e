//! Journal recovery scan rate: open a 256 MiB journal (four 64 MiB segments of 128-byte records)
//! and verify every header, seq and chain checksum, plus the zero tail of the last segment; and
//! the replay rate of iterating every record afterwards. The files stay in the page cache between
//! iterations, so this measures the CPU cost of the scan, not the disk.
//!
//! Run: `flock /tmp/betbet-cpu.lock cargo bench -p betbet-bench --bench journal_recovery`

use std::hint::black_box;
use std::time::Duration;

use betbet_journal::{Durability, Journal, Options};
use criterion::{Criterion, Throughput};

const JOURNAL_BYTES: u64 = 256 << 20;

fn options() -> Options {
    Options {
        durability: Durability::None,
        segment_bytes: 64 << 20,
        snapshots_retained: 2,
    }
}

fn recovery(c: &mut Criterion) {
    let dir = tempfile::Builder::new()
        .prefix("betbet-journal-recovery")
        .tempdir_in("/tmp")
        .unwrap();
    let payload = vec![0xa5u8; 128];
    let records = {
        let (mut journal, _) = Journal::open_dir(dir.path(), options()).unwrap();
        let per_record = betbet_journal::record_bytes(payload.len()) as u64;
        // Fill the four segments, leaving the last one's tail of zeros, as a live journal has.
        let records = (JOURNAL_BYTES - 4 * 64 - 64 * 1024) / per_record;
        for _ in 0..records {
            journal.append(&payload).unwrap();
        }
        journal.close().unwrap();
        records
    };
    let (_, recovery) = Journal::open_dir(dir.path(), options()).unwrap();
    println!(
        "recovery fixture: {records} records, {} segments, {} bytes scanned",
        recovery.segments, recovery.bytes_scanned
    );
    let mut group = c.benchmark_group("journal_recovery");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Bytes(recovery.bytes_scanned));
    group.bench_function("open_scan_256MiB", |b| {
        b.iter(|| {
            let (journal, recovery) = Journal::open_dir(dir.path(), options()).unwrap();
            assert_eq!(recovery.last_seq, records);
            black_box(journal);
        });
    });
    let (journal, _) = Journal::open_dir(dir.path(), options()).unwrap();
    group.throughput(Throughput::Elements(records));
    group.bench_function("replay_all_records", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            let count = journal
                .replay_from(0, |_, payload| bytes += payload.len())
                .unwrap();
            assert_eq!(count, records);
            black_box(bytes)
        });
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    recovery(&mut criterion);
    criterion.final_summary();
}
