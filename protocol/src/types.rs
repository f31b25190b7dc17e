//! Value types shared by every part of BetBet: ids, fixed-point money, prices and quantities.
//!
//! Money and prices are never floats. Three scales are fixed here and nowhere else:
//! - [`Amount`] is an `i64` count of 10^-8 currency units, the spec's `DECIMAL(20, 8)`;
//! - [`Price`] is a `u32` count of 10^-4 of probability, so a prediction-market price lives
//!   on the grid 1..=9999 and the tick sizes 0.01 / 0.001 / 0.0001 are 100 / 10 / 1 units;
//! - [`Qty`] is a `u64` count of 10^-4 shares.
//!
//! The scales are chosen so that `price × quantity` is exactly an [`Amount`]: 10^-4 × 10^-4 =
//! 10^-8. Collateral for an order is therefore computed without any rounding at all.
//!
//! Conversions from `rust_decimal::Decimal` reject what does not fit (too many decimal places,
//! out of range, wrong sign) rather than rounding: a user who typed 0.123456789 meant
//! something we cannot represent, and silently changing it would be lying to them.

use crate::codec::{Decode, DecodeError, Encode, FixedSize, Reader};
use rust_decimal::Decimal;
use thiserror::Error;

/// 10^8: one currency unit in [`Amount`] units.
pub const AMOUNT_SCALE: i64 = 100_000_000;
/// Decimal places of an [`Amount`].
pub const AMOUNT_DECIMALS: u32 = 8;
/// 10^4: probability 1.0 in [`Price`] units; a winning share pays this many amount units per
/// quantity unit.
pub const PRICE_SCALE: u32 = 10_000;
/// Decimal places of a [`Price`].
pub const PRICE_DECIMALS: u32 = 4;
/// 10^4: one share in [`Qty`] units.
pub const QTY_SCALE: u64 = 10_000;
/// Decimal places of a [`Qty`].
pub const QTY_DECIMALS: u32 = 4;
/// The largest quantity one order may carry: 10 million shares. Bounding it keeps
/// `price × qty` and every sum of a bounded number of them far inside `i64`.
pub const QTY_ORDER_MAX: u64 = 10_000_000 * QTY_SCALE;

/// Reads decimal text exactly: plain (`"12.50"`) or scientific (`"1.25e1"`), surrounding
/// whitespace ignored. Only ASCII digits, one sign, a point and an exponent are read —
/// rust_decimal alone would also take `"1_0"` as 10. Total: any text gives a decimal or
/// `None`, never a panic.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    use std::str::FromStr;
    let text = text.trim();
    if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

/// Why a decimal value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("{what} has more than {max_decimals} decimal places")]
    TooPrecise {
        what: &'static str,
        max_decimals: u32,
    },
    #[error("{what} is out of range")]
    OutOfRange { what: &'static str },
    #[error("{what} must not be negative")]
    Negative { what: &'static str },
}

/// Scales `value` to an integer count of 10^-`decimals` units, refusing to round.
fn decimal_to_units(value: Decimal, decimals: u32, what: &'static str) -> Result<i128, ValueError> {
    let value = value.normalize();
    let scale = value.scale();
    if scale > decimals {
        return Err(ValueError::TooPrecise {
            what,
            max_decimals: decimals,
        });
    }
    let factor = 10i128.pow(decimals - scale);
    value
        .mantissa()
        .checked_mul(factor)
        .ok_or(ValueError::OutOfRange { what })
}

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        #[cfg_attr(test, derive(proptest_derive::Arbitrary))]
        pub struct $name(pub u64);

        impl Encode for $name {
            #[inline]
            fn encode(&self, out: &mut Vec<u8>) {
                self.0.encode(out);
            }
        }
        impl Decode for $name {
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self(u64::decode(r)?))
            }
        }
        impl FixedSize for $name {
            const SIZE: usize = 8;
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    /// A user. `UserId(0)` is the system itself (timers, start-up configuration).
    UserId,
    /// A ledger account: one per owner and currency. User accounts are the spec's wallets.
    AccountId,
    MarketId,
    /// One outcome of a market; ids are global, so an outcome id alone finds its market.
    OutcomeId,
    OrderId,
    TradeId,
    PositionId,
    PoolId,
    SessionId,
    /// A wallet transaction: deposits, withdrawals, transfers, payouts share this space, so a
    /// withdrawal request and a P2P transfer are found by their transaction id.
    TxId,
    PaymentMethodId,
    KycDocumentId,
);

impl UserId {
    pub const SYSTEM: UserId = UserId(0);
}

/// A point in time: microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);
    pub const MICROS_PER_SECOND: i64 = 1_000_000;

    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(Self::MICROS_PER_SECOND))
    }

    pub fn saturating_add_micros(self, micros: i64) -> Self {
        Timestamp(self.0.saturating_add(micros))
    }

    pub fn as_secs(self) -> i64 {
        self.0.div_euclid(Self::MICROS_PER_SECOND)
    }
}

impl Encode for Timestamp {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}
impl Decode for Timestamp {
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(i64::decode(r)?))
    }
}
impl FixedSize for Timestamp {
    const SIZE: usize = 8;
}

/// Money: a signed count of 10^-8 currency units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Amount(pub i64);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    /// One whole currency unit.
    pub const ONE: Amount = Amount(AMOUNT_SCALE);

    pub fn from_decimal(value: Decimal) -> Result<Self, ValueError> {
        let units = decimal_to_units(value, AMOUNT_DECIMALS, "amount")?;
        i64::try_from(units)
            .map(Amount)
            .map_err(|_| ValueError::OutOfRange { what: "amount" })
    }

    /// Like [`Amount::from_decimal`], but zero and negative values are refused too.
    pub fn from_decimal_positive(value: Decimal) -> Result<Self, ValueError> {
        let amount = Self::from_decimal(value)?;
        if amount.0 < 0 {
            return Err(ValueError::Negative { what: "amount" });
        }
        if amount.0 == 0 {
            return Err(ValueError::OutOfRange { what: "amount" });
        }
        Ok(amount)
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, AMOUNT_DECIMALS)
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_decimal().fmt(f)
    }
}

impl Encode for Amount {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}
impl Decode for Amount {
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(i64::decode(r)?))
    }
}
impl FixedSize for Amount {
    const SIZE: usize = 8;
}

/// A prediction-market price: a probability in 10^-4 units. Valid prices are strictly inside
/// (0, 1), i.e. 1..=9999, and on the market's tick grid (checked by the engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Price(pub u32);

impl Price {
    pub const MIN: Price = Price(1);
    pub const MAX: Price = Price(PRICE_SCALE - 1);

    /// Parses a probability such as `0.55`. Refuses more than 4 decimal places and anything
    /// outside the open interval (0, 1).
    pub fn from_decimal(value: Decimal) -> Result<Self, ValueError> {
        let units = decimal_to_units(value, PRICE_DECIMALS, "price")?;
        if units <= 0 || units >= i128::from(PRICE_SCALE) {
            return Err(ValueError::OutOfRange { what: "price" });
        }
        Ok(Price(units as u32))
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(i64::from(self.0), PRICE_DECIMALS)
    }

    /// The price of the complementary share: a YES at `p` and a NO at `1 - p` together cost
    /// exactly one unit.
    pub fn complement(self) -> Price {
        debug_assert!(self.0 <= PRICE_SCALE);
        Price(PRICE_SCALE - self.0)
    }

    pub fn is_valid(self) -> bool {
        self.0 >= Self::MIN.0 && self.0 <= Self::MAX.0
    }
}

impl Encode for Price {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}
impl Decode for Price {
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(u32::decode(r)?))
    }
}
impl FixedSize for Price {
    const SIZE: usize = 4;
}

/// A quantity of shares in 10^-4 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Qty(pub u64);

impl Qty {
    pub const ZERO: Qty = Qty(0);

    pub fn from_decimal(value: Decimal) -> Result<Self, ValueError> {
        let units = decimal_to_units(value, QTY_DECIMALS, "quantity")?;
        if units < 0 {
            return Err(ValueError::Negative { what: "quantity" });
        }
        u64::try_from(units)
            .map(Qty)
            .map_err(|_| ValueError::OutOfRange { what: "quantity" })
    }

    pub fn to_decimal(self) -> Decimal {
        // Exact for every u64 (Decimal's mantissa has 96 bits); a quantity past i64::MAX
        // units was once shown saturated, which the decimal_values fuzz target caught.
        Decimal::from_i128_with_scale(i128::from(self.0), QTY_DECIMALS)
    }
}

impl Encode for Qty {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}
impl Decode for Qty {
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(u64::decode(r)?))
    }
}
impl FixedSize for Qty {
    const SIZE: usize = 8;
}

/// The exact cost of `qty` shares at `price`: no rounding happens because the scales
/// multiply to the amount scale. Callers bound `qty` by [`QTY_ORDER_MAX`].
#[inline]
pub fn notional(price: Price, qty: Qty) -> Amount {
    debug_assert!(qty.0 <= QTY_ORDER_MAX * 16);
    Amount(i64::from(price.0) * qty.0 as i64)
}

/// The payout of `qty` winning shares: one currency unit per share.
#[inline]
pub fn payout(qty: Qty) -> Amount {
    notional(Price(PRICE_SCALE), qty)
}

/// A short ASCII text stored inline (no heap), such as a client order id or an idempotency
/// key. Printable ASCII only, 1..=N bytes; unused bytes are zero so every value has exactly
/// one encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InlineStr<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> InlineStr<N> {
    const FITS: () = assert!(N <= u8::MAX as usize);

    pub fn new(text: &str) -> Option<Self> {
        let () = Self::FITS;
        let raw = text.as_bytes();
        if raw.is_empty() || raw.len() > N || !raw.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return None;
        }
        let mut bytes = [0u8; N];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(InlineStr {
            len: raw.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Construction and decoding admit printable ASCII only, which is valid UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("inline str is ascii")
    }
}

impl<const N: usize> std::fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl<const N: usize> Encode for InlineStr<N> {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.len);
        out.extend_from_slice(&self.bytes);
    }
}

impl<const N: usize> Decode for InlineStr<N> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(u8::decode(r)?);
        let bytes: [u8; N] = r.array()?;
        let valid = (1..=N).contains(&len)
            && bytes[..len].iter().all(|b| (0x21..=0x7e).contains(b))
            && bytes[len..].iter().all(|&b| b == 0);
        if !valid {
            return Err(DecodeError::InvalidValue {
                what: "inline text",
            });
        }
        Ok(InlineStr {
            len: len as u8,
            bytes,
        })
    }
}

impl<const N: usize> FixedSize for InlineStr<N> {
    const SIZE: usize = 1 + N;
}

#[cfg(test)]
impl<const N: usize> proptest::arbitrary::Arbitrary for InlineStr<N> {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::strategy::Strategy;
        proptest::collection::vec(0x21u8..=0x7e, 1..=N)
            .prop_map(|raw| {
                InlineStr::new(std::str::from_utf8(&raw).expect("ascii")).expect("valid text")
            })
            .boxed()
    }
}

/// An order's id chosen by the client, unique per user; a UUID fits.
pub type ClientOrderId = InlineStr<36>;
/// The `Idempotency-Key` of a money request, unique per user.
pub type IdempotencyKey = InlineStr<64>;

/// A currency code such as `USD`, `USDC` or `BTC`: 2 to 8 upper-case ASCII letters or digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 8]);

impl Currency {
    pub fn new(code: &str) -> Option<Self> {
        let raw = code.as_bytes();
        if !(2..=8).contains(&raw.len())
            || !raw
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return None;
        }
        let mut bytes = [0u8; 8];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(Currency(bytes))
    }

    pub fn as_str(&self) -> &str {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(8);
        std::str::from_utf8(&self.0[..len]).expect("currency is ascii")
    }
}

impl std::fmt::Debug for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Encode for Currency {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for Currency {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes: [u8; 8] = r.array()?;
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(8);
        let text = std::str::from_utf8(&bytes[..len]).ok();
        match text.and_then(Currency::new) {
            Some(currency) if bytes[len..].iter().all(|&b| b == 0) => Ok(currency),
            _ => Err(DecodeError::InvalidValue { what: "currency" }),
        }
    }
}

impl FixedSize for Currency {
    const SIZE: usize = 8;
}

#[cfg(test)]
impl proptest::arbitrary::Arbitrary for Currency {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::strategy::Strategy;
        "[A-Z0-9]{2,8}"
            .prop_map(|code| Currency::new(&code).expect("valid code"))
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{from_slice, to_vec};
    use std::str::FromStr;

    #[test]
    fn decimal_text_is_digits_a_sign_a_point_and_an_exponent() {
        let read = |t: &str| parse_decimal(t).map(|d| d.to_string());
        assert_eq!(read(" 12.50 ").as_deref(), Some("12.50"));
        assert_eq!(read("+5").as_deref(), Some("5"));
        assert_eq!(read(".5").as_deref(), Some("0.5"));
        assert_eq!(read("1.25e1").as_deref(), Some("12.5"));
        // rust_decimal alone reads these; a money API should not.
        for text in ["1_0", "1_000.00", "0x10", "١٢", "1 0", ""] {
            assert_eq!(read(text), None, "{text:?}");
        }
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn amounts_convert_exactly_or_not_at_all() {
        let cases: &[(&str, Result<i64, ValueError>)] = &[
            ("12.50", Ok(1_250_000_000)),
            ("0.00000001", Ok(1)),
            ("-3", Ok(-300_000_000)),
            ("1.000000000", Ok(100_000_000)),
            (
                "0.000000001",
                Err(ValueError::TooPrecise {
                    what: "amount",
                    max_decimals: 8,
                }),
            ),
            (
                "92233720368.54775808",
                Err(ValueError::OutOfRange { what: "amount" }),
            ),
            ("92233720368.54775807", Ok(i64::MAX)),
        ];
        for (text, expected) in cases {
            assert_eq!(
                Amount::from_decimal(dec(text)).map(|a| a.0),
                *expected,
                "{text}"
            );
        }
        assert_eq!(Amount(1_250_000_000).to_decimal().normalize(), dec("12.5"));
        assert!(Amount::from_decimal_positive(dec("0")).is_err());
        assert!(Amount::from_decimal_positive(dec("-1")).is_err());
    }

    #[test]
    fn prices_are_probabilities_inside_the_open_interval() {
        assert_eq!(Price::from_decimal(dec("0.55")), Ok(Price(5500)));
        assert_eq!(Price::from_decimal(dec("0.0001")), Ok(Price(1)));
        assert_eq!(Price::from_decimal(dec("0.9999")), Ok(Price(9999)));
        for bad in ["0", "1", "1.5", "-0.2", "0.00001"] {
            assert!(Price::from_decimal(dec(bad)).is_err(), "{bad}");
        }
        assert_eq!(Price(5500).complement(), Price(4500));
    }

    /// Found by the decimal_values fuzz target: a quantity above i64::MAX units read back
    /// as a different number.
    #[test]
    fn huge_quantities_read_back_exactly() {
        let value = dec("1556556626626556");
        assert_eq!(Qty::from_decimal(value).unwrap().to_decimal(), value);
        assert_eq!(Qty(u64::MAX).to_decimal(), dec("1844674407370955.1615"));
    }

    #[test]
    fn notional_is_exact() {
        // 2.5 shares at 0.37 cost 0.925 exactly.
        let qty = Qty::from_decimal(dec("2.5")).unwrap();
        let price = Price::from_decimal(dec("0.37")).unwrap();
        assert_eq!(notional(price, qty).to_decimal().normalize(), dec("0.925"));
        assert_eq!(payout(qty), Amount(250_000_000));
    }

    #[test]
    fn quantities_refuse_negative_and_over_precise() {
        assert!(Qty::from_decimal(dec("-1")).is_err());
        assert!(Qty::from_decimal(dec("1.00001")).is_err());
        assert_eq!(Qty::from_decimal(dec("1.0001")), Ok(Qty(10_001)));
    }

    #[test]
    fn currency_codes_are_validated_on_decode() {
        let usd = Currency::new("USD").unwrap();
        assert_eq!(from_slice::<Currency>(&to_vec(&usd)), Ok(usd));
        assert!(Currency::new("usd").is_none());
        assert!(Currency::new("U").is_none());
        assert!(Currency::new("TOOLONGXX").is_none());
        assert!(from_slice::<Currency>(b"U\0S\0\0\0\0\0").is_err());
    }

    #[test]
    fn inline_text_has_one_encoding() {
        let id = ClientOrderId::new("abc-123").unwrap();
        let bytes = to_vec(&id);
        assert_eq!(bytes.len(), 37);
        assert_eq!(from_slice::<ClientOrderId>(&bytes), Ok(id));
        let mut dirty = bytes.clone();
        dirty[20] = b'x';
        assert!(from_slice::<ClientOrderId>(&dirty).is_err());
        assert!(ClientOrderId::new("").is_none());
        assert!(ClientOrderId::new("has space").is_none());
        assert!(ClientOrderId::new(&"x".repeat(37)).is_none());
    }
}
