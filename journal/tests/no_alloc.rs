//! The append hot path must not allocate: a counting global allocator watches 100 000 appends
//! (and the syncs between them) on the file backend, within one segment.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use betbet_journal::{Durability, Journal, Options};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter has no effect
// on the memory handed out.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract for `alloc` is passed through unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn append_and_sync_do_not_allocate() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        durability: Durability::Batch,
        segment_bytes: 64 << 20,
        snapshots_retained: 2,
    };
    let (mut journal, _) = Journal::open_dir(dir.path(), options).unwrap();
    let payload = [0x42u8; 64];
    // The first sync sizes the reusable sync plan; after that nothing may allocate.
    journal.append(&payload).unwrap();
    journal.sync().unwrap();
    COUNTING.store(true, Ordering::SeqCst);
    // The counter itself must see allocations, or a zero below would prove nothing.
    std::hint::black_box(vec![0u8; 16]);
    assert_eq!(
        ALLOCATIONS.swap(0, Ordering::SeqCst),
        1,
        "the counting allocator counts"
    );
    for i in 0..100_000u64 {
        journal.append(&payload).unwrap();
        if i % 1000 == 999 {
            journal.sync().unwrap();
        }
    }
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "allocations on the append/sync path"
    );
    assert_eq!(journal.close().unwrap(), 100_001);
}
