//! JSON at the edge: strict request bodies, exact decimals, and the output formats.
//!
//! Request bodies are objects whose fields are the spec's names; unknown fields are refused
//! (`deny_unknown_fields` on every request type), so a client cannot smuggle in `role` or
//! `balance`. Money, prices and quantities may be given as decimal strings (`"12.50"`) or as
//! JSON numbers; both are read exactly (serde_json keeps the number's text) and anything that
//! does not fit the fixed-point type — too many decimals, out of range — is a 400, never
//! rounded. Output amounts are decimal strings.

use crate::error::ApiError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use betbet_protocol::types::{Amount, Currency, Price, Qty, Timestamp};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// A JSON body, with serde's complaint as a 400 `invalid_request`.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::bad_request(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected a JSON body with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) => {
            ApiError::new(e.status(), "invalid_request", e.body_text())
        }
        other => ApiError::bad_request(other.body_text()),
    }
}

/// An optional JSON body: no body (or an empty one) is `T::default()`.
pub struct OptBody<T>(pub T);

impl<S, T> FromRequest<S> for OptBody<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "invalid_request", e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptBody(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptBody)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }
}

/// Query-string parameters, with the complaint as a 400.
pub struct Params<T>(pub T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::bad_request(e.body_text()))
            }
            Err(other) => Err(ApiError::bad_request(other.body_text())),
        }
    }
}

/// A body the spec gives as one named parameter (`profile_data: dict`, `updates: dict`):
/// either the object itself or the object wrapped under that name, `{"updates": {…}}`.
/// Either way its fields are checked strictly.
pub fn unwrap_named<T: DeserializeOwned>(
    body: serde_json::Value,
    name: &str,
) -> Result<T, ApiError> {
    let body = match body {
        serde_json::Value::Object(mut outer) if outer.len() == 1 && outer.contains_key(name) => {
            outer.remove(name).unwrap_or_default()
        }
        plain => plain,
    };
    serde_json::from_value(body).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// A decimal read exactly from a JSON string or number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dec(pub Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let text = match &value {
            serde_json::Value::String(text) => text.clone(),
            // With `arbitrary_precision`, a number keeps its exact text.
            serde_json::Value::Number(number) => number.to_string(),
            _ => {
                return Err(serde::de::Error::custom(
                    "expected a decimal string or number",
                ));
            }
        };
        betbet_protocol::types::parse_decimal(&text)
            .map(Dec)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a decimal number")))
    }
}

/// In the OpenAPI document: a decimal string, or a JSON number.
impl utoipa::PartialSchema for Dec {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(DECIMAL_PATTERN))
                    .examples([serde_json::Value::from("12.50")]),
            )
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .description(Some(
                "An exact decimal: a string such as \"12.50\", or a JSON number (read from its \
                 text, never through a float)",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Dec {
    fn name() -> std::borrow::Cow<'static, str> {
        "Decimal".into()
    }
}

/// The decimals the API reads and writes, as a pattern for the document.
/// A superset of what [`betbet_protocol::types::parse_decimal`] reads; range and precision are
/// checked per field (a 400 names the field).
pub const DECIMAL_PATTERN: &str = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$";

/// The highest page number a paged route takes: far past the end of any list it pages.
pub const PAGE_MAX: u32 = 1_000_000;

/// A paging or size parameter: `default` when absent, a 400 naming the field and its range
/// when outside `min..=max` (never silently clamped, so a client learns its mistake).
pub fn bounded(
    field: &str,
    value: Option<u32>,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ApiError> {
    match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(v) => Err(ApiError::bad_request(format!(
            "{field} must be from {min} to {max}, not {v}"
        ))),
    }
}

/// A percentage from 0 to 100 with at most two decimals, as basis points; `None` for
/// anything else (a huge value included: the scaling cannot overflow).
pub fn percent_bp(value: Dec) -> Option<u16> {
    let bp = value.0.checked_mul(Decimal::from(100))?;
    if bp.fract() != Decimal::ZERO || bp < Decimal::ZERO || bp > Decimal::from(10_000) {
        return None;
    }
    u16::try_from(bp.mantissa() / 10i128.pow(bp.scale())).ok()
}

pub fn amount(field: &str, value: Dec) -> Result<Amount, ApiError> {
    Amount::from_decimal_positive(value.0).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_amount",
            format!("{field}: {e}"),
        )
    })
}

pub fn price(field: &str, value: Dec) -> Result<Price, ApiError> {
    Price::from_decimal(value.0).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_price",
            format!("{field}: {e}"),
        )
    })
}

pub fn qty(field: &str, value: Dec) -> Result<Qty, ApiError> {
    match Qty::from_decimal(value.0) {
        Ok(qty) if qty.0 > 0 => Ok(qty),
        Ok(_) => Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_quantity",
            format!("{field} must be positive"),
        )),
        Err(e) => Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_quantity",
            format!("{field}: {e}"),
        )),
    }
}

pub fn currency(code: &str) -> Result<Currency, ApiError> {
    Currency::new(&code.to_ascii_uppercase()).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unsupported_currency",
            format!("`{code}` is not a currency code"),
        )
    })
}

/// A time as RFC 3339 (`2026-01-01T12:00:00Z`, any offset), or — as clients of the spec
/// send — a time without offset (taken as UTC) or a bare date (its midnight, UTC).
pub fn timestamp(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    let text = text.trim();
    let plain =
        |t: &str| t.is_ascii() && !t.contains(['Z', 'z', '+']) && t.matches('-').count() == 2;
    let parsed = crate::time::parse(text).or_else(|| match text.len() {
        10 if plain(text) => crate::time::parse(&format!("{text}T00:00:00Z")),
        19..=26 if plain(text) => crate::time::parse(&format!("{text}Z")),
        _ => None,
    });
    parsed.ok_or_else(|| {
        ApiError::bad_request(format!(
            "{field} must be an RFC 3339 time (or YYYY-MM-DD[THH:MM:SS] in UTC), got `{text}`"
        ))
    })
}

/// An amount as a decimal string without trailing zeros (`"12.5"`).
pub fn money(amount: Amount) -> String {
    amount.to_decimal().normalize().to_string()
}

pub fn price_text(price: Price) -> String {
    price.to_decimal().normalize().to_string()
}

pub fn qty_text(qty: Qty) -> String {
    qty.to_decimal().normalize().to_string()
}

pub fn time(at: Timestamp) -> String {
    crate::time::format(at)
}

pub fn opt_time(at: Option<Timestamp>) -> Option<String> {
    at.map(time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimals_are_exact_from_strings_and_numbers() {
        let from = |json: &str| serde_json::from_str::<Dec>(json).map(|d| d.0.to_string());
        assert_eq!(from("\"12.50\"").unwrap(), "12.50");
        assert_eq!(from("0.1").unwrap(), "0.1");
        assert_eq!(
            from("12345678901.12345678").unwrap(),
            "12345678901.12345678"
        );
        assert!(from("\"abc\"").is_err());
        assert!(from("true").is_err());
        assert!(amount("amount", Dec(Decimal::from_str("0.000000001").unwrap())).is_err());
        assert!(amount("amount", Dec(Decimal::from_str("-1").unwrap())).is_err());
        assert_eq!(money(Amount(1_250_000_000)), "12.5");
    }
}
