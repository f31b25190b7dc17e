//! Explicit little-endian encoding, written out field by field.
//!
//! Every message that crosses a socket or lands in the journal goes through [`Encode`] and
//! [`Decode`]. There is no serde or bincode on this path: the layout is part of the protocol
//! and of the on-disk journal, so it must not change when a dependency changes its mind.
//!
//! Decoding is total: any byte string yields a value or a [`DecodeError`], never a panic, and
//! the decoder never allocates more than the bytes it was given could describe (a length
//! prefix larger than the remaining input is an error before any allocation).
//!
//! The layout rules are few and fixed:
//! - integers are little-endian, fixed width; `bool` is one byte, 0 or 1;
//! - `Option<T>` is a one-byte tag (0 = none, 1 = some) followed by `T`;
//! - `String` is a `u16` byte length and UTF-8 bytes; `Vec<u8>` and other vectors are a `u32`
//!   element count and the elements;
//! - structs are their fields in declaration order; enums are a tag (`u8` or `u16`) followed by
//!   the variant's payload.

use thiserror::Error;

/// Why a byte string is not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("message ends early: needed {needed} more bytes at offset {offset}")]
    UnexpectedEnd { offset: usize, needed: usize },
    #[error("unknown {what} tag {tag}")]
    UnknownTag { what: &'static str, tag: u16 },
    #[error("invalid {what}")]
    InvalidValue { what: &'static str },
    #[error("{what} is {len} long, more than the remaining {remaining} bytes allow")]
    LengthOverrun {
        what: &'static str,
        len: usize,
        remaining: usize,
    },
    #[error("{count} trailing bytes after the message")]
    TrailingBytes { count: usize },
}

/// A cursor over the bytes of one message.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
    format: u32,
}

impl<'a> Reader<'a> {
    /// A reader of bytes in the current format.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            offset: 0,
            format: u32::MAX,
        }
    }

    /// The format the bytes were written in (`u32::MAX`: the current one).
    pub fn format(&self) -> u32 {
        self.format
    }

    /// Reads the rest of the bytes as written in format `format` of a versioned container
    /// (an engine snapshot, after its version header): decoders of types that gained fields
    /// since then read the old layout and give the new fields their defaults.
    pub fn set_format(&mut self, format: u32) {
        self.format = format;
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::UnexpectedEnd {
                offset: self.offset,
                needed: len - self.remaining(),
            });
        }
        let slice = &self.bytes[self.offset..self.offset + len];
        self.offset += len;
        Ok(slice)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// Fails unless every byte was consumed: a message with trailing garbage is not the
    /// message its prefix describes.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }
}

pub trait Encode {
    fn encode(&self, out: &mut Vec<u8>);
}

pub trait Decode: Sized {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Types whose encoding always has the same length. Structs built only from such types get a
/// `const` size check, so an accidental layout change fails to compile.
pub trait FixedSize {
    const SIZE: usize;
}

/// Encodes a value into a fresh vector.
pub fn to_vec<T: Encode>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

/// Decodes exactly one value from `bytes`; trailing bytes are an error.
pub fn from_slice<T: Decode>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    let value = T::decode(&mut r)?;
    r.finish()?;
    Ok(value)
}

macro_rules! int_codec {
    ($($ty:ty),*) => {$(
        impl Encode for $ty {
            #[inline]
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl Decode for $ty {
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(<$ty>::from_le_bytes(r.array()?))
            }
        }
        impl FixedSize for $ty {
            const SIZE: usize = std::mem::size_of::<$ty>();
        }
    )*};
}
int_codec!(u8, u16, u32, u64, u128, i32, i64);

impl Encode for bool {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Decode for bool {
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidValue { what: "bool" }),
        }
    }
}

impl FixedSize for bool {
    const SIZE: usize = 1;
}

impl<T: Encode, const N: usize> Encode for [T; N] {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Decode, const N: usize> Decode for [T; N] {
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut items = Vec::with_capacity(N);
        for _ in 0..N {
            items.push(T::decode(r)?);
        }
        items
            .try_into()
            .map_err(|_| DecodeError::InvalidValue { what: "array" })
    }
}

impl<T: FixedSize, const N: usize> FixedSize for [T; N] {
    const SIZE: usize = N * T::SIZE;
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        // Strings longer than u16::MAX cannot be expressed; the engine's field limits are far
        // below that, so reaching this is a programming error, not bad input.
        let len = u16::try_from(self.len()).expect("string longer than u16::MAX on the wire");
        len.encode(out);
        out.extend_from_slice(self.as_bytes());
    }
}

impl Decode for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(u16::decode(r)?);
        if len > r.remaining() {
            return Err(DecodeError::LengthOverrun {
                what: "string",
                len,
                remaining: r.remaining(),
            });
        }
        let bytes = r.take(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidValue {
                what: "utf-8 string",
            })
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.len()).expect("vector longer than u32::MAX on the wire");
        len.encode(out);
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = u32::decode(r)? as usize;
        // Every element takes at least one byte, so a count above the remaining bytes is a
        // lie; checking it first keeps the allocation bounded by the input.
        if len > r.remaining() {
            return Err(DecodeError::LengthOverrun {
                what: "vector",
                len,
                remaining: r.remaining(),
            });
        }
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(T::decode(r)?);
        }
        Ok(items)
    }
}

impl<T: Encode> Encode for Option<T> {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.encode(out);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(r)?)),
            tag => Err(DecodeError::UnknownTag {
                what: "option",
                tag: u16::from(tag),
            }),
        }
    }
}

/// A boxed value is its value (a large part of an event stays off the enum's size).
impl<T: Encode> Encode for Box<T> {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

impl<T: Decode> Decode for Box<T> {
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Box::new(T::decode(r)?))
    }
}

/// Collections used by the engine's snapshot. Maps and sets encode their entries sorted by
/// key, so equal contents always give equal bytes (and equal state hashes), whatever order
/// they were built in.
impl<T: Encode> Encode for std::collections::VecDeque<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.len()).expect("deque longer than u32::MAX");
        len.encode(out);
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Decode> Decode for std::collections::VecDeque<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Vec::<T>::decode(r)?.into())
    }
}

impl<K, V, S> Encode for std::collections::HashMap<K, V, S>
where
    K: Encode + Ord,
    V: Encode,
{
    fn encode(&self, out: &mut Vec<u8>) {
        let mut entries: Vec<(&K, &V)> = self.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let len = u32::try_from(entries.len()).expect("map longer than u32::MAX");
        len.encode(out);
        for (key, value) in entries {
            key.encode(out);
            value.encode(out);
        }
    }
}

impl<K, V, S> Decode for std::collections::HashMap<K, V, S>
where
    K: Decode + Eq + std::hash::Hash,
    V: Decode,
    S: std::hash::BuildHasher + Default,
{
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = u32::decode(r)? as usize;
        if len > r.remaining() {
            return Err(DecodeError::LengthOverrun {
                what: "map",
                len,
                remaining: r.remaining(),
            });
        }
        let mut map = std::collections::HashMap::with_capacity_and_hasher(len, S::default());
        for _ in 0..len {
            let key = K::decode(r)?;
            let value = V::decode(r)?;
            if map.insert(key, value).is_some() {
                return Err(DecodeError::InvalidValue {
                    what: "duplicate map key",
                });
            }
        }
        Ok(map)
    }
}

impl<K: Encode, V: Encode> Encode for std::collections::BTreeMap<K, V> {
    fn encode(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.len()).expect("map longer than u32::MAX");
        len.encode(out);
        for (key, value) in self {
            key.encode(out);
            value.encode(out);
        }
    }
}

impl<K: Decode + Ord, V: Decode> Decode for std::collections::BTreeMap<K, V> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = u32::decode(r)? as usize;
        if len > r.remaining() {
            return Err(DecodeError::LengthOverrun {
                what: "map",
                len,
                remaining: r.remaining(),
            });
        }
        let mut map = std::collections::BTreeMap::new();
        for _ in 0..len {
            let key = K::decode(r)?;
            let value = V::decode(r)?;
            if map.insert(key, value).is_some() {
                return Err(DecodeError::InvalidValue {
                    what: "duplicate map key",
                });
            }
        }
        Ok(map)
    }
}

impl<T: Encode> Encode for std::collections::BTreeSet<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.len()).expect("set longer than u32::MAX");
        len.encode(out);
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Decode + Ord> Decode for std::collections::BTreeSet<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let items = Vec::<T>::decode(r)?;
        let len = items.len();
        let set: std::collections::BTreeSet<T> = items.into_iter().collect();
        if set.len() != len {
            return Err(DecodeError::InvalidValue {
                what: "duplicate set item",
            });
        }
        Ok(set)
    }
}

impl<T: Encode + Ord + Clone> Encode for std::collections::BinaryHeap<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.clone().into_sorted_vec().encode(out);
    }
}

impl<T: Decode + Ord> Decode for std::collections::BinaryHeap<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Vec::<T>::decode(r)?.into())
    }
}

impl<T: Encode> Encode for std::cmp::Reverse<T> {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}

impl<T: Decode> Decode for std::cmp::Reverse<T> {
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(std::cmp::Reverse(T::decode(r)?))
    }
}

macro_rules! tuple_codec {
    ($($name:ident),+) => {
        impl<$($name: Encode),+> Encode for ($($name,)+) {
            #[inline]
            #[allow(non_snake_case)]
            fn encode(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $( $name.encode(out); )+
            }
        }
        impl<$($name: Decode),+> Decode for ($($name,)+) {
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(($( $name::decode(r)?, )+))
            }
        }
    };
}
tuple_codec!(A, B);
tuple_codec!(A, B, C);
tuple_codec!(A, B, C, D);

/// Declares a struct whose wire form is its fields in order.
///
/// `#[fixed(N)]` before the struct additionally implements [`FixedSize`] and asserts at
/// compile time that the encoded size is exactly `N` bytes.
#[macro_export]
macro_rules! wire_struct {
    (
        $(#[doc = $doc:expr])*
        #[fixed($size:expr)]
        $(#[$meta:meta])*
        pub struct $name:ident { $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)? }
    ) => {
        $crate::wire_struct! {
            $(#[doc = $doc])*
            $(#[$meta])*
            pub struct $name { $( $(#[$fmeta])* pub $field : $ty ),* }
        }
        impl $crate::codec::FixedSize for $name {
            const SIZE: usize = 0 $( + <$ty as $crate::codec::FixedSize>::SIZE )*;
        }
        const _: () = assert!(<$name as $crate::codec::FixedSize>::SIZE == $size);
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[cfg_attr(test, derive(proptest_derive::Arbitrary))]
        pub struct $name { $( $(#[$fmeta])* pub $field : $ty ),* }

        impl $crate::codec::Encode for $name {
            #[inline]
            #[allow(unused_variables)]
            fn encode(&self, out: &mut Vec<u8>) {
                $( $crate::codec::Encode::encode(&self.$field, out); )*
            }
        }

        impl $crate::codec::Decode for $name {
            #[inline]
            #[allow(unused_variables)]
            fn decode(r: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::codec::DecodeError> {
                Ok(Self { $( $field: $crate::codec::Decode::decode(r)?, )* })
            }
        }
    };
}

/// Declares an enum whose variants each carry one payload type, tagged by a `u16`.
///
/// Tags are written out explicitly and never reused: a journal written today must decode
/// with tomorrow's binary.
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident ( $payload:ty ) = $tag:literal ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[cfg_attr(test, derive(proptest_derive::Arbitrary))]
        // Messages are built, sent and dropped; boxing big variants would cost more than it saves.
        #[allow(clippy::large_enum_variant)]
        pub enum $name { $( $(#[$vmeta])* $variant($payload) ),* }

        impl $name {
            /// The stable numeric tag of this variant on the wire.
            pub fn tag(&self) -> u16 {
                match self { $( Self::$variant(_) => $tag ),* }
            }

            /// The variant's name, for logs and metrics.
            pub fn kind(&self) -> &'static str {
                match self { $( Self::$variant(_) => stringify!($variant) ),* }
            }
        }

        impl $crate::codec::Encode for $name {
            #[inline]
            fn encode(&self, out: &mut Vec<u8>) {
                match self {
                    $( Self::$variant(payload) => {
                        $crate::codec::Encode::encode(&($tag as u16), out);
                        $crate::codec::Encode::encode(payload, out);
                    } )*
                }
            }
        }

        impl $crate::codec::Decode for $name {
            #[inline]
            fn decode(r: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::codec::DecodeError> {
                let tag = <u16 as $crate::codec::Decode>::decode(r)?;
                match tag {
                    $( $tag => Ok(Self::$variant($crate::codec::Decode::decode(r)?)), )*
                    _ => Err($crate::codec::DecodeError::UnknownTag { what: stringify!($name), tag }),
                }
            }
        }
    };
}

/// Declares a field-less enum encoded as one byte, with a stable snake_case name for each
/// variant (the name the JSON edge uses).
#[macro_export]
macro_rules! wire_cenum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $tag:literal => $text:literal ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(test, derive(proptest_derive::Arbitrary))]
        pub enum $name { $( $(#[$vmeta])* $variant ),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$( $name::$variant ),*];

            pub fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $text ),* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $( $text => Some(Self::$variant), )* _ => None }
            }

            pub fn from_u8(tag: u8) -> Option<Self> {
                match tag { $( $tag => Some(Self::$variant), )* _ => None }
            }

            pub fn to_u8(self) -> u8 {
                match self { $( Self::$variant => $tag ),* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::codec::Encode for $name {
            #[inline]
            fn encode(&self, out: &mut Vec<u8>) {
                out.push(self.to_u8());
            }
        }

        impl $crate::codec::Decode for $name {
            #[inline]
            fn decode(r: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::codec::DecodeError> {
                let tag = <u8 as $crate::codec::Decode>::decode(r)?;
                Self::from_u8(tag).ok_or($crate::codec::DecodeError::UnknownTag {
                    what: stringify!($name),
                    tag: u16::from(tag),
                })
            }
        }

        impl $crate::codec::FixedSize for $name {
            const SIZE: usize = 1;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let bytes = to_vec(&(0x0102_0304_0506_0708u64));
        for len in 0..bytes.len() {
            assert!(matches!(
                from_slice::<u64>(&bytes[..len]),
                Err(DecodeError::UnexpectedEnd { .. })
            ));
        }
        assert_eq!(from_slice::<u64>(&bytes), Ok(0x0102_0304_0506_0708));
    }

    #[test]
    fn vector_length_larger_than_input_fails_before_allocating() {
        let mut bytes = Vec::new();
        u32::MAX.encode(&mut bytes);
        assert!(matches!(
            from_slice::<Vec<u64>>(&bytes),
            Err(DecodeError::LengthOverrun { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = to_vec(&7u32);
        bytes.push(0);
        assert_eq!(
            from_slice::<u32>(&bytes),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn bool_and_option_tags_are_strict() {
        assert!(from_slice::<bool>(&[2]).is_err());
        assert!(from_slice::<Option<u8>>(&[2, 0]).is_err());
        assert_eq!(from_slice::<Option<u8>>(&[1, 9]), Ok(Some(9)));
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        assert!(from_slice::<String>(&[2, 0, 0xff, 0xfe]).is_err());
    }
}
