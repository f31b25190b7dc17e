//! API errors: `{"error": {"code": "...", "message": "..."}}` with a fitting status.
//!
//! Business rejections keep the engine's stable snake_case code; the status is chosen here,
//! per code, so every route answers the same rejection the same way.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use betbet_protocol::result::ResultCode;
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Seconds to wait, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "you may not do this")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; slow down",
            )
        }
    }
}

/// The HTTP status of a business rejection.
pub fn status_of(code: ResultCode) -> StatusCode {
    use ResultCode::*;
    match code {
        Overloaded | Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        InvalidRequest | InvalidAmount | TextTooLong | InvalidTime | InvalidText | InvalidPrice
        | PriceOffTick | InvalidQuantity | InvalidTickSize | InvalidCloseTime | InvalidFee
        | InvalidOutcomes | InvalidMarketType | InvalidScalarRange | InvalidResolution
        | InvalidTimeInForce | ExpiryInPast | InvalidUsername | InvalidEmail
        | InvalidReferralCode | UnsupportedCurrency => StatusCode::BAD_REQUEST,
        Forbidden | NotMarketCreator | NotPoolManager | OracleNotManual | AccountSuspended
        | ResolverMayNotTrade | NotAHolder => StatusCode::FORBIDDEN,
        NotFound
        | UnknownAccount
        | DepositNotFound
        | WithdrawalNotFound
        | TransactionNotFound
        | PaymentMethodNotFound
        | MarketNotFound
        | OutcomeNotFound
        | PoolNotFound
        | OrderNotFound
        | PositionNotFound
        | UserNotFound
        | KycDocumentNotFound
        | ApiKeyNotFound => StatusCode::NOT_FOUND,
        IdempotencyKeyConflict
        | WalletExists
        | UsernameTaken
        | EmailTaken
        | DepositNotPending
        | WithdrawalNotPending
        | KycNotPending
        | AlreadyPoolMember
        | TwoFaAlreadyEnabled
        | OrderNotOpen
        | MarketAlreadySettled
        | AmendNoChange
        | ApiKeyRevoked
        | MarketNotClosed
        | ResolutionPending
        | NoResolutionProposed
        | DisputeWindowOver
        | AlreadyDisputed => StatusCode::CONFLICT,
        InvalidCredentials | SessionNotFound | SessionExpired | SessionRevoked
        | RefreshTokenReused | TwoFaRequired | InvalidTwoFaCode | TwoFaCodeReused
        | StaleTimestamp | NonceReused | BadSignature => StatusCode::UNAUTHORIZED,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<ResultCode> for ApiError {
    fn from(code: ResultCode) -> Self {
        ApiError {
            retry_after: matches!(code, ResultCode::Overloaded).then_some(1),
            ..ApiError::new(status_of(code), code.name(), code.message())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
