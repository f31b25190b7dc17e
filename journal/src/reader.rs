//! Tailing readers: follow the journal from any sequence number while the writer appends.
//!
//! A reader maps segments read-only by itself and never touches the writer. It only looks at a
//! record once its seq is at or below the published watermark; the writer publishes a seq after
//! the record's bytes are written (release/acquire), and never changes them afterwards, so every
//! byte a reader reads is stable. Each record is verified again (header checksum, seq, chain),
//! which pairs with the checks done on write and at recovery.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{JournalError, Result};
use crate::format::{
    RECORD_HEADER_BYTES, RecordHeader, SEGMENT_HEADER_BYTES, SegmentHeader, chain_crc, segment_name,
};
use crate::storage::{FileStorage, SegmentView, Storage, StorageHandle};
use crate::watch::{Shared, Watermark};

type View<S> = <<S as Storage>::Handle as StorageHandle>::View;

/// Reads `(seq, payload)` records in order from a starting seq, up to a watermark.
pub struct Reader<S: Storage = FileStorage> {
    handle: S::Handle,
    shared: Arc<Shared>,
    watermark: Watermark,
    view: Option<View<S>>,
    segment_index: u64,
    segment_name: String,
    offset: usize,
    next_seq: u64,
    from_seq: u64,
    chain: u32,
    payload: Vec<u8>,
}

impl<S: Storage> fmt::Debug for Reader<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("watermark", &self.watermark)
            .field("segment_index", &self.segment_index)
            .field("offset", &self.offset)
            .field("next_seq", &self.next_seq)
            .field("from_seq", &self.from_seq)
            .finish_non_exhaustive()
    }
}

impl<S: Storage> Reader<S> {
    pub(crate) fn new(
        handle: S::Handle,
        shared: Arc<Shared>,
        from_seq: u64,
        watermark: Watermark,
    ) -> Reader<S> {
        Reader {
            handle,
            shared,
            watermark,
            view: None,
            segment_index: 0,
            segment_name: String::new(),
            offset: 0,
            next_seq: 0,
            from_seq,
            chain: 0,
            payload: Vec::new(),
        }
    }

    /// The seq the next record will have.
    pub fn next_seq(&self) -> u64 {
        if self.view.is_some() {
            self.next_seq.max(self.from_seq)
        } else {
            self.from_seq
        }
    }

    /// The next record, or `None` if the next record is not yet below the watermark.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<(u64, &[u8])>> {
        match self.advance()? {
            Some(seq) => Ok(Some((seq, &self.payload))),
            None => Ok(None),
        }
    }

    /// The next record, waiting up to `timeout` for the watermark to reach it. Returns `None`
    /// on timeout, and an error if the journal failed while waiting.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<(u64, &[u8])>> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(seq) = self.advance()? {
                return Ok(Some((seq, &self.payload)));
            }
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            let target = self.next_seq();
            if !self.shared.wait_for(self.watermark, target, left) {
                if self.shared.is_failed() && self.shared.watermark(self.watermark) < target {
                    return Err(self.shared.failed_error());
                }
                if left.is_zero() {
                    return Ok(None);
                }
            }
        }
    }

    fn corrupt(&self, reason: String) -> JournalError {
        JournalError::Corrupt {
            file: self.handle.describe(&self.segment_name),
            offset: self.offset as u64,
            seq: self.next_seq,
            reason,
        }
    }

    /// Opens segment `index` and checks that it continues where the reader stands (or, for the
    /// first segment, anchors it).
    fn open_segment(&mut self, index: u64, expect: Option<(u64, u32)>) -> Result<()> {
        let name = segment_name(index);
        let view = self.handle.open_read(&name)?;
        self.segment_name = name;
        self.offset = 0;
        if view.len() < SEGMENT_HEADER_BYTES {
            return Err(self.corrupt("segment shorter than its header".to_owned()));
        }
        let header = view
            .read_at(0, SEGMENT_HEADER_BYTES, SegmentHeader::decode)
            .map_err(|reason| self.corrupt(reason.to_owned()))?;
        if header.index != index {
            return Err(
                self.corrupt("segment header index does not match its file name".to_owned())
            );
        }
        if let Some((next_seq, chain)) = expect
            && (header.first_seq != next_seq || header.prev_chain != chain)
        {
            return Err(self.corrupt(format!(
                "segment starts at seq {} but the reader expected seq {next_seq}",
                header.first_seq
            )));
        }
        self.view = Some(view);
        self.segment_index = index;
        self.offset = SEGMENT_HEADER_BYTES;
        self.next_seq = header.first_seq;
        self.chain = header.prev_chain;
        Ok(())
    }

    /// Positions the reader at the start of the segment holding `from_seq`.
    fn position(&mut self) -> Result<()> {
        let found = {
            let segments = self.shared.segments();
            match segments
                .iter()
                .rev()
                .find(|entry| entry.first_seq <= self.from_seq)
            {
                Some(entry) => Ok(entry.index),
                None => Err(segments.first().map_or(1, |entry| entry.first_seq)),
            }
        };
        match found {
            Ok(index) => self.open_segment(index, None),
            Err(first_available) => Err(JournalError::Pruned {
                requested: self.from_seq,
                first_available,
            }),
        }
    }

    /// Reads the next record at or after `from_seq` into `self.payload`; returns its seq.
    fn advance(&mut self) -> Result<Option<u64>> {
        loop {
            let watermark = self.shared.watermark(self.watermark);
            if self.next_seq() > watermark {
                return Ok(None);
            }
            let Some(view) = self.view.as_ref() else {
                self.position()?;
                continue;
            };
            // The record `next_seq` is published, so it is either complete at `offset` or, when
            // a zero length word (or the end of the file) is there, the first of the next segment.
            let header = if view.len() - self.offset >= RECORD_HEADER_BYTES {
                Some(view.read_at(self.offset, RECORD_HEADER_BYTES, RecordHeader::decode_raw))
            } else {
                None
            };
            let Some(header) = header.filter(|h| h.payload_len != 0) else {
                self.open_segment(self.segment_index + 1, Some((self.next_seq, self.chain)))?;
                continue;
            };
            if !header.is_intact() || header.record_bytes() > view.len() - self.offset {
                return Err(self.corrupt("record header checksum mismatch".to_owned()));
            }
            if header.seq != self.next_seq {
                return Err(self.corrupt(format!("record seq {} out of order", header.seq)));
            }
            let keep = header.seq >= self.from_seq;
            let mut head = [0u8; RECORD_HEADER_BYTES];
            let payload = &mut self.payload;
            let chain = view.read_at(self.offset, header.record_bytes(), |bytes| {
                head.copy_from_slice(&bytes[..RECORD_HEADER_BYTES]);
                let body =
                    &bytes[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + header.payload_len as usize];
                if keep {
                    payload.clear();
                    payload.extend_from_slice(body);
                }
                chain_crc(self.chain, &head[..24], body)
            });
            if chain != header.chain_crc {
                return Err(self.corrupt("record chain checksum mismatch".to_owned()));
            }
            self.chain = chain;
            self.offset += header.record_bytes();
            self.next_seq += 1;
            if keep {
                return Ok(Some(header.seq));
            }
        }
    }
}
