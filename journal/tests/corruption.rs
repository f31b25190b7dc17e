//! Corruption on real files: a damaged final record is a torn tail (truncated, appends resume);
//! damage anywhere before it is refused with an error naming the file, byte offset and seq,
//! because later records carry durable hints proving the damaged record had been acknowledged.
//! Records are appended under `Batch` with a sync after each, as an engine acknowledging every
//! command would. Fails with `--features broken-skip-verify`.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use betbet_journal::{
    Durability, Journal, JournalError, Options, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
    record_bytes, segment_name,
};

const SEGMENT_BYTES: u64 = 16 << 10;

fn options() -> Options {
    Options {
        durability: Durability::Batch,
        segment_bytes: SEGMENT_BYTES,
        snapshots_retained: 2,
    }
}

fn payload(seq: u64) -> Vec<u8> {
    (0..40 + seq as usize % 50)
        .map(|i| (seq as usize * 13 + i) as u8)
        .collect()
}

/// Where a record landed: (seq, segment index, byte offset).
type Layout = Vec<(u64, u64, u64)>;

/// Appends `count` records with a sync after each and returns where each one is, computed from
/// the documented layout (records never span segments).
fn build(dir: &Path, count: u64) -> Layout {
    let (mut journal, _) = Journal::open_dir(dir, options()).unwrap();
    let mut layout = Vec::new();
    let (mut index, mut offset) = (0u64, SEGMENT_HEADER_BYTES as u64);
    for seq in 1..=count {
        let bytes = payload(seq);
        let size = record_bytes(bytes.len()) as u64;
        if offset + size > SEGMENT_BYTES {
            index += 1;
            offset = SEGMENT_HEADER_BYTES as u64;
        }
        assert_eq!(journal.append(&bytes).unwrap(), seq);
        assert_eq!(journal.sync().unwrap(), seq);
        layout.push((seq, index, offset));
        offset += size;
    }
    layout
}

fn flip(dir: &Path, index: u64, at: u64, mask: u8) {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(segment_name(index)))
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, at).unwrap();
    byte[0] ^= mask;
    file.write_all_at(&byte, at).unwrap();
}

fn expect_refused(dir: &Path, seq: u64, index: u64, offset: u64) {
    let err = Journal::open_dir(dir, options()).unwrap_err();
    match &err {
        JournalError::Corrupt {
            file,
            offset: at,
            seq: bad,
            ..
        } => {
            assert!(file.ends_with(&segment_name(index)), "{err}");
            assert_eq!((*at, *bad), (offset, seq), "{err}");
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&segment_name(index)) && message.contains(&format!("seq {seq}")),
        "{message}"
    );
}

#[test]
fn a_flipped_bit_in_the_final_record_is_truncated_and_appends_resume() {
    let dir = tempfile::tempdir().unwrap();
    let layout = build(dir.path(), 50);
    let (seq, index, offset) = layout[49];
    flip(
        dir.path(),
        index,
        offset + RECORD_HEADER_BYTES as u64 + 3,
        0x04,
    );
    let (mut journal, recovery) = Journal::open_dir(dir.path(), options()).unwrap();
    let truncated = recovery
        .truncated
        .expect("the damaged final record is cut off");
    assert_eq!((truncated.seq, truncated.offset), (seq, offset));
    assert!(truncated.file.ends_with(&segment_name(index)));
    assert_eq!(recovery.last_seq, 49);
    assert_eq!(journal.append(b"replacement").unwrap(), 50);
    journal.close().unwrap();
    let (journal, recovery) = Journal::open_dir(dir.path(), options()).unwrap();
    assert_eq!((recovery.last_seq, recovery.truncated), (50, None));
    let mut last = Vec::new();
    journal
        .replay_from(49, |_, bytes| last = bytes.to_vec())
        .unwrap();
    assert_eq!(last, b"replacement");
}

#[test]
fn a_flipped_payload_bit_in_an_earlier_record_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let layout = build(dir.path(), 50);
    let (seq, index, offset) = layout[19];
    flip(
        dir.path(),
        index,
        offset + RECORD_HEADER_BYTES as u64 + 5,
        0x80,
    );
    expect_refused(dir.path(), seq, index, offset);
}

#[test]
fn a_flipped_header_bit_in_an_earlier_record_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let layout = build(dir.path(), 50);
    let (seq, index, offset) = layout[29];
    flip(dir.path(), index, offset + 9, 0x01);
    expect_refused(dir.path(), seq, index, offset);
}

#[test]
fn a_zeroed_record_in_a_later_segment_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let layout = build(dir.path(), 400);
    let &(seq, index, offset) = layout.iter().find(|(_, index, _)| *index == 2).unwrap();
    // The first record of segment 2 vanishes entirely, as if the sector was lost.
    let file = OpenOptions::new()
        .write(true)
        .open(dir.path().join(segment_name(index)))
        .unwrap();
    file.write_all_at(&[0u8; 128], offset).unwrap();
    // The log now seems to end where the record was; the records after it prove otherwise.
    expect_refused(dir.path(), seq, index, offset);
}

#[test]
fn a_damaged_segment_header_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let layout = build(dir.path(), 400);
    let &(seq, _, _) = layout.iter().find(|(_, index, _)| *index == 1).unwrap();
    flip(dir.path(), 1, 30, 0x02);
    let (_, prev_index, prev_offset) = layout[seq as usize - 2];
    let prev_end = prev_offset + record_bytes(payload(seq - 1).len()) as u64;
    expect_refused(dir.path(), seq, prev_index, prev_end);
}

#[test]
fn a_damaged_final_record_covered_by_a_snapshot_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let layout = build(dir.path(), 20);
    {
        let (mut journal, _) = Journal::open_dir(dir.path(), options()).unwrap();
        journal.write_snapshot(20, b"state").unwrap();
    }
    let (seq, index, offset) = layout[19];
    flip(dir.path(), index, offset + RECORD_HEADER_BYTES as u64, 0x01);
    expect_refused(dir.path(), seq, index, offset);
}
