//! The on-disk layout: segment headers, record headers, snapshot headers, and the checksum chain.
//!
//! Everything here is plain little-endian encoding and decoding with `const` size checks, kept
//! apart from I/O so recovery, the reader and the tests share one definition of "intact". The
//! decoders return `Err`/`None` on any bytes and never panic. The layout itself is described in
//! the crate documentation.

/// Magic bytes that open every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"BBJSEG\r\n";
/// Magic bytes that open every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"BBJSNAP\n";
/// Version of the segment and snapshot formats; a reader refuses versions it does not know.
pub const FORMAT_VERSION: u32 = 1;

/// Size of the header at the start of every segment file.
pub const SEGMENT_HEADER_BYTES: usize = 64;
/// Size of the header in front of every record's payload.
pub const RECORD_HEADER_BYTES: usize = 32;
/// Size of the header in front of a snapshot's state bytes.
pub const SNAPSHOT_HEADER_BYTES: usize = 40;
/// Records start and end on this alignment, so a scanner only looks at aligned positions.
pub const RECORD_ALIGN: usize = 8;
/// The largest record payload: a 1 MiB protocol frame plus room for its envelope.
pub const RECORD_PAYLOAD_MAX: usize = (1 << 20) + (64 << 10);
/// Page size used to align sync ranges and by the simulator's dirty tracking.
pub const PAGE_BYTES: usize = 4096;
/// The smallest segment file the journal creates.
pub const SEGMENT_BYTES_MIN: u64 = 8 << 10;
/// The largest segment file the journal creates (and accepts when scanning).
pub const SEGMENT_BYTES_MAX: u64 = 1 << 30;
/// The largest snapshot the journal writes or loads.
pub const SNAPSHOT_BYTES_MAX: u64 = 1 << 36;

const _: () = assert!(SEGMENT_HEADER_BYTES.is_multiple_of(RECORD_ALIGN));
const _: () = assert!(RECORD_HEADER_BYTES == 4 + 4 + 8 + 8 + 4 + 4);
const _: () = assert!(RECORD_HEADER_BYTES.is_multiple_of(RECORD_ALIGN));
const _: () = assert!(SEGMENT_HEADER_BYTES == 8 + 4 + 4 + 8 + 8 + 8 + 4 + 16 + 4);
const _: () = assert!(SNAPSHOT_HEADER_BYTES == 8 + 4 + 4 + 8 + 8 + 4 + 4);
const _: () = assert!((SEGMENT_BYTES_MIN as usize).is_multiple_of(PAGE_BYTES));
const _: () = assert!((SEGMENT_BYTES_MAX as usize).is_multiple_of(PAGE_BYTES));
// A record's length and offset always fit in the u32/usize arithmetic used below.
const _: () = assert!(RECORD_PAYLOAD_MAX < u32::MAX as usize / 2);

/// Bytes a record with a payload of `payload_len` bytes occupies, header and padding included.
#[inline]
pub const fn record_bytes(payload_len: usize) -> usize {
    RECORD_HEADER_BYTES + payload_len.next_multiple_of(RECORD_ALIGN)
}

#[inline]
pub(crate) fn get_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

#[inline]
pub(crate) fn get_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The header at the start of a segment file.
///
/// It carries the chain checksum that precedes the segment's first record, so the chain can be
/// verified from any segment on, which is what lets `prune` delete older segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Position of the segment in the journal (0, 1, 2, …; also in the file name).
    pub index: u64,
    /// Sequence number of the first record the segment holds (or will hold).
    pub first_seq: u64,
    /// Length of the file as created.
    pub segment_bytes: u64,
    /// Chain checksum of the record before `first_seq` (0 at the very start of a journal).
    pub prev_chain: u32,
}

impl SegmentHeader {
    /// Encodes the header, including its own checksum in the last four bytes.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        let mut out = [0u8; SEGMENT_HEADER_BYTES];
        out[0..8].copy_from_slice(&SEGMENT_MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        // Bytes 12..16 are reserved and stay zero.
        out[16..24].copy_from_slice(&self.index.to_le_bytes());
        out[24..32].copy_from_slice(&self.first_seq.to_le_bytes());
        out[32..40].copy_from_slice(&self.segment_bytes.to_le_bytes());
        out[40..44].copy_from_slice(&self.prev_chain.to_le_bytes());
        // Bytes 44..60 are reserved and stay zero.
        let crc = crc32c::crc32c(&out[..SEGMENT_HEADER_BYTES - 4]);
        out[SEGMENT_HEADER_BYTES - 4..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and checks a segment header; `Err` names what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, &'static str> {
        if bytes.len() < SEGMENT_HEADER_BYTES {
            return Err("segment file shorter than its header");
        }
        let bytes = &bytes[..SEGMENT_HEADER_BYTES];
        let crc = get_u32(bytes, SEGMENT_HEADER_BYTES - 4);
        if crc32c::crc32c(&bytes[..SEGMENT_HEADER_BYTES - 4]) != crc {
            return Err("segment header checksum mismatch");
        }
        if bytes[0..8] != SEGMENT_MAGIC {
            return Err("segment header magic mismatch");
        }
        if get_u32(bytes, 8) != FORMAT_VERSION {
            return Err("unknown segment format version");
        }
        if get_u32(bytes, 12) != 0 || bytes[44..60].iter().any(|&b| b != 0) {
            return Err("segment header reserved bytes are not zero");
        }
        let header = SegmentHeader {
            index: get_u64(bytes, 16),
            first_seq: get_u64(bytes, 24),
            segment_bytes: get_u64(bytes, 32),
            prev_chain: get_u32(bytes, 40),
        };
        if header.first_seq == 0 {
            return Err("segment header first seq is zero");
        }
        Ok(header)
    }
}

/// The fixed header in front of every record's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Payload length in bytes, at least 1 and at most [`RECORD_PAYLOAD_MAX`].
    pub payload_len: u32,
    /// Checksum of the other header fields, independent of the chain.
    pub header_crc: u32,
    /// Sequence number, contiguous from 1.
    pub seq: u64,
    /// The highest sequence number known durable when this record was written.
    pub durable_hint: u64,
    /// `crc32c(previous chain ‖ record bytes 0..24 ‖ payload)`.
    pub chain_crc: u32,
    /// Must be zero.
    pub reserved: u32,
}

/// Checksum over the record header fields other than itself and the chain.
#[inline]
pub fn record_header_crc(payload_len: u32, seq: u64, durable_hint: u64) -> u32 {
    let mut fields = [0u8; 24];
    fields[0..4].copy_from_slice(&payload_len.to_le_bytes());
    fields[4..12].copy_from_slice(&seq.to_le_bytes());
    fields[12..20].copy_from_slice(&durable_hint.to_le_bytes());
    // Bytes 20..24 stand for the reserved field, which is always zero.
    crc32c::crc32c(&fields)
}

/// The chain checksum of a record: it covers the previous record's chain value, the first 24
/// header bytes (length, header checksum, seq, durable hint) and the payload.
#[inline]
pub fn chain_crc(prev_chain: u32, header_head: &[u8], payload: &[u8]) -> u32 {
    debug_assert_eq!(header_head.len(), 24);
    let crc = crc32c::crc32c(&prev_chain.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, header_head);
    crc32c::crc32c_append(crc, payload)
}

impl RecordHeader {
    /// Builds the header of a new record; the caller supplies the chain value it computed.
    #[inline]
    pub fn new(payload_len: u32, seq: u64, durable_hint: u64) -> RecordHeader {
        RecordHeader {
            payload_len,
            header_crc: record_header_crc(payload_len, seq, durable_hint),
            seq,
            durable_hint,
            chain_crc: 0,
            reserved: 0,
        }
    }

    /// Encodes the header.
    #[inline]
    pub fn encode(&self) -> [u8; RECORD_HEADER_BYTES] {
        let mut out = [0u8; RECORD_HEADER_BYTES];
        out[0..4].copy_from_slice(&self.payload_len.to_le_bytes());
        out[4..8].copy_from_slice(&self.header_crc.to_le_bytes());
        out[8..16].copy_from_slice(&self.seq.to_le_bytes());
        out[16..24].copy_from_slice(&self.durable_hint.to_le_bytes());
        out[24..28].copy_from_slice(&self.chain_crc.to_le_bytes());
        out[28..32].copy_from_slice(&self.reserved.to_le_bytes());
        out
    }

    /// Decodes the fields without checking them; `bytes` must hold at least 32 bytes.
    #[inline]
    pub fn decode_raw(bytes: &[u8]) -> RecordHeader {
        RecordHeader {
            payload_len: get_u32(bytes, 0),
            header_crc: get_u32(bytes, 4),
            seq: get_u64(bytes, 8),
            durable_hint: get_u64(bytes, 16),
            chain_crc: get_u32(bytes, 24),
            reserved: get_u32(bytes, 28),
        }
    }

    /// Whether the header is intact on its own: a plausible length, a zero reserved field, a
    /// durable hint behind its own seq, and a matching header checksum. This says nothing about
    /// the payload or the chain.
    #[inline]
    pub fn is_intact(&self) -> bool {
        self.payload_len != 0
            && self.payload_len as usize <= RECORD_PAYLOAD_MAX
            && self.reserved == 0
            && self.durable_hint < self.seq
            && self.header_crc == record_header_crc(self.payload_len, self.seq, self.durable_hint)
    }

    /// Bytes this record occupies.
    #[inline]
    pub fn record_bytes(&self) -> usize {
        record_bytes(self.payload_len as usize)
    }
}

/// Encodes the header of a snapshot holding `state` for records up to `seq`.
pub fn encode_snapshot_header(seq: u64, state: &[u8]) -> [u8; SNAPSHOT_HEADER_BYTES] {
    let mut out = [0u8; SNAPSHOT_HEADER_BYTES];
    out[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[12..16].copy_from_slice(&crc32c::crc32c(state).to_le_bytes());
    out[16..24].copy_from_slice(&seq.to_le_bytes());
    out[24..32].copy_from_slice(&(state.len() as u64).to_le_bytes());
    // Bytes 32..36 are reserved and stay zero.
    let crc = crc32c::crc32c(&out[..SNAPSHOT_HEADER_BYTES - 4]);
    out[SNAPSHOT_HEADER_BYTES - 4..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Checks a whole snapshot file and returns its seq and state bytes.
pub fn decode_snapshot(file: &[u8]) -> Result<(u64, &[u8]), &'static str> {
    if file.len() < SNAPSHOT_HEADER_BYTES {
        return Err("snapshot shorter than its header");
    }
    let header = &file[..SNAPSHOT_HEADER_BYTES];
    if crc32c::crc32c(&header[..SNAPSHOT_HEADER_BYTES - 4])
        != get_u32(header, SNAPSHOT_HEADER_BYTES - 4)
    {
        return Err("snapshot header checksum mismatch");
    }
    if header[0..8] != SNAPSHOT_MAGIC {
        return Err("snapshot magic mismatch");
    }
    if get_u32(header, 8) != FORMAT_VERSION {
        return Err("unknown snapshot format version");
    }
    if get_u32(header, 32) != 0 {
        return Err("snapshot reserved bytes are not zero");
    }
    let seq = get_u64(header, 16);
    let len = get_u64(header, 24);
    let state = &file[SNAPSHOT_HEADER_BYTES..];
    if state.len() as u64 != len {
        return Err("snapshot length does not match its header");
    }
    if crc32c::crc32c(state) != get_u32(header, 12) {
        return Err("snapshot state checksum mismatch");
    }
    Ok((seq, state))
}

/// File name of segment `index`; zero padded so names sort in index order.
pub fn segment_name(index: u64) -> String {
    format!("segment-{index:020}.wal")
}

/// The index in a segment file name, or `None` for other names.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("segment-")?.strip_suffix(".wal")?;
    parse_padded(digits)
}

/// File name of the snapshot covering records up to `seq`.
pub fn snapshot_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.snap")
}

/// The seq in a snapshot file name, or `None` for other names.
pub fn parse_snapshot_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    parse_padded(digits)
}

fn parse_padded(digits: &str) -> Option<u64> {
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Suffix of a snapshot being written; such files are leftovers of a crash and are removed.
pub const TEMP_SUFFIX: &str = ".tmp";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_header_round_trips_and_rejects_any_flipped_bit() {
        let header = SegmentHeader {
            index: 7,
            first_seq: 1234,
            segment_bytes: 1 << 20,
            prev_chain: 0xdead_beef,
        };
        let bytes = header.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(header));
        for bit in 0..SEGMENT_HEADER_BYTES * 8 {
            let mut bad = bytes;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(SegmentHeader::decode(&bad).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn record_header_detects_any_flipped_bit_outside_the_chain_field() {
        let mut header = RecordHeader::new(100, 42, 41);
        header.chain_crc = 0x1234_5678;
        let bytes = header.encode();
        assert!(RecordHeader::decode_raw(&bytes).is_intact());
        for bit in 0..RECORD_HEADER_BYTES * 8 {
            // The chain field is checked by the chain itself, not by the header checksum.
            if (24 * 8..28 * 8).contains(&bit) {
                continue;
            }
            let mut bad = bytes;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!RecordHeader::decode_raw(&bad).is_intact(), "bit {bit}");
        }
    }

    #[test]
    fn snapshot_round_trips_and_rejects_damage() {
        let state = b"state bytes".to_vec();
        let mut file = encode_snapshot_header(9, &state).to_vec();
        file.extend_from_slice(&state);
        assert_eq!(decode_snapshot(&file), Ok((9, &state[..])));
        for at in 0..file.len() {
            let mut bad = file.clone();
            bad[at] ^= 0x10;
            assert!(decode_snapshot(&bad).is_err(), "byte {at}");
        }
        assert!(decode_snapshot(&file[..file.len() - 1]).is_err());
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(parse_segment_name(&segment_name(17)), Some(17));
        assert_eq!(
            parse_snapshot_name(&snapshot_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_segment_name("segment-1.wal"), None);
        assert_eq!(
            parse_snapshot_name("snapshot-00000000000000000001.snap.tmp"),
            None
        );
    }
}
