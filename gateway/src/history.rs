//! Reads that reach past the core's windows, answered from the history store.
//!
//! A history route asks the core first; when the core's page is short (its window may have
//! ended before the page did) and a store is attached, the page comes from the store
//! instead. Read-your-writes: before reading the store, the gateway waits until the store
//! has applied every record the core had made durable when the request arrived — so a
//! client sees its own acknowledged changes — for at most `--history-wait-ms`; past that
//! the answer is 503 `history_lagging` with a `Retry-After`, never a page with holes.

use crate::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use betbet_persistence::schema::{self, Value};
use betbet_persistence::{Progress, Store};
use betbet_protocol::event::TxType;
use betbet_protocol::query::Timeframe;
use betbet_protocol::types::{Amount, MarketId, OutcomeId, Price, Qty, Timestamp, UserId};
use betbet_protocol::view::{Candle, OrderView, PositionView, TxView};
use std::sync::Arc;
use std::time::Duration;

/// The history store as the gateway uses it.
pub struct History {
    pub store: Store,
    pub progress: Arc<Progress>,
    /// How long a read waits for the store to catch up with the core.
    pub wait: Duration,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("store", &self.store)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// A failed read of the history store: 503 `history_unavailable`, retry in a second.
pub(crate) fn store_error(error: betbet_persistence::Error) -> ApiError {
    tracing::error!(%error, "history store read failed");
    ApiError {
        retry_after: Some(1),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "history_unavailable",
            "the history store cannot be read right now",
        )
    }
}

impl History {
    /// Waits until the store holds every record up to `head` (the core's durable seq when
    /// the request arrived).
    pub async fn caught_up(&self, head: u64) -> ApiResult<()> {
        if self.progress.wait_applied(head, self.wait).await {
            return Ok(());
        }
        Err(ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "history_lagging",
                format!(
                    "the history store is {} records behind; try again shortly",
                    head.saturating_sub(self.progress.applied())
                ),
            )
        })
    }

    /// One page of a user's transactions, newest first, as `GET /transactions` filters them.
    pub async fn transactions(
        &self,
        user: UserId,
        tx_type: Option<TxType>,
        since: Option<Timestamp>,
        offset: u32,
        limit: u32,
    ) -> ApiResult<Vec<TxView>> {
        let mut filter = "user_id = $1".to_owned();
        let mut params = vec![schema::id(user.0)];
        if let Some(tx_type) = tx_type {
            params.push(schema::text(tx_type.as_str()));
            filter.push_str(&format!(" AND type = ${}", params.len()));
        }
        if let Some(since) = since {
            params.push(schema::time(since));
            filter.push_str(&format!(" AND created_at >= ${}", params.len()));
        }
        self.newest_first(
            &schema::TRANSACTIONS,
            &filter,
            &params,
            offset,
            limit,
            schema::tx_view,
        )
        .await
    }

    /// One page of a user's rating changes (of one game, or all), newest first.
    pub async fn rating_history(
        &self,
        user: UserId,
        game: Option<betbet_protocol::games::GameId>,
        offset: u32,
        limit: u32,
    ) -> ApiResult<Vec<betbet_protocol::games::RatingChanged>> {
        let mut filter = "user_id = $1".to_owned();
        let mut params = vec![schema::id(user.0)];
        if let Some(game) = game {
            params.push(schema::id(game.0));
            filter.push_str(" AND game_id = $2");
        }
        let rows = self
            .store
            .select(
                &schema::RATING_HISTORY,
                &filter,
                &params,
                "created_at DESC, session_id DESC, game_id DESC",
                limit,
                u64::from(offset),
            )
            .await
            .map_err(store_error)?;
        Ok(rows.iter().filter_map(schema::rating_change).collect())
    }

    /// One page of `table`'s rows matching `filter`, newest first, as views.
    async fn newest_first<T>(
        &self,
        table: &schema::Table,
        filter: &str,
        params: &[Value],
        offset: u32,
        limit: u32,
        view: fn(&schema::Row) -> Option<T>,
    ) -> ApiResult<Vec<T>> {
        let rows = self
            .store
            .select(
                table,
                filter,
                params,
                "created_at DESC, id DESC",
                limit,
                u64::from(offset),
            )
            .await
            .map_err(store_error)?;
        Ok(rows.iter().filter_map(view).collect())
    }

    /// One page of `table`'s rows matching `filter` in `order`, as views, and how many
    /// rows match in all.
    #[allow(clippy::too_many_arguments)]
    pub async fn page<T>(
        &self,
        table: &schema::Table,
        filter: &str,
        params: &[Value],
        order: &str,
        offset: u32,
        limit: u32,
        view: fn(&schema::Row) -> Option<T>,
    ) -> ApiResult<(Vec<T>, u64)> {
        let rows = self
            .store
            .select(table, filter, params, order, limit, u64::from(offset))
            .await
            .map_err(store_error)?;
        let total = self
            .store
            .count(table, filter, params)
            .await
            .map_err(store_error)?;
        Ok((rows.iter().filter_map(view).collect(), total))
    }

    /// The row of `table` whose primary key `id` is, as a view.
    async fn one<T>(
        &self,
        table: &schema::Table,
        id: u64,
        view: fn(&schema::Row) -> Option<T>,
    ) -> ApiResult<Option<T>> {
        let rows = self
            .store
            .select(table, "id = $1", &[schema::id(id)], "", 1, 0)
            .await
            .map_err(store_error)?;
        Ok(rows.first().and_then(view))
    }

    /// One transaction by id.
    pub async fn transaction(&self, tx: betbet_protocol::types::TxId) -> ApiResult<Option<TxView>> {
        self.one(&schema::TRANSACTIONS, tx.0, schema::tx_view).await
    }

    /// One order by id.
    pub async fn order(
        &self,
        order: betbet_protocol::types::OrderId,
    ) -> ApiResult<Option<OrderView>> {
        self.one(&schema::MARKET_ORDERS, order.0, schema::order_view)
            .await
    }

    /// One page of a user's orders (open and ended), newest first.
    pub async fn orders(
        &self,
        user: UserId,
        market: Option<MarketId>,
        offset: u32,
        limit: u32,
    ) -> ApiResult<Vec<OrderView>> {
        let mut filter = "user_id = $1".to_owned();
        let mut params: Vec<Value> = vec![schema::id(user.0)];
        if let Some(market) = market {
            params.push(schema::id(market.0));
            filter.push_str(" AND market_id = $2");
        }
        self.newest_first(
            &schema::MARKET_ORDERS,
            &filter,
            &params,
            offset,
            limit,
            schema::order_view,
        )
        .await
    }

    /// A user's settled positions, the most recently settled first, at most `limit`.
    pub async fn settled_positions(
        &self,
        user: UserId,
        limit: u32,
    ) -> ApiResult<Vec<PositionView>> {
        let rows = self
            .store
            .select(
                &schema::MARKET_POSITIONS,
                "user_id = $1 AND status = 'settled'",
                &[schema::id(user.0)],
                "updated_at DESC, id DESC",
                limit,
                0,
            )
            .await
            .map_err(store_error)?;
        Ok(rows.iter().filter_map(schema::position_view).collect())
    }

    /// The candles of the YES book `book` in the last `limit` periods, oldest first; `mirror`
    /// shows them for the book's NO outcome.
    pub async fn candles(
        &self,
        book: OutcomeId,
        timeframe: Timeframe,
        limit: u32,
        mirror: bool,
    ) -> ApiResult<Vec<Candle>> {
        // The last `limit` periods: a chart never aggregates an outcome's whole history.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        let bucket = timeframe.micros();
        let since = Timestamp(now - now.rem_euclid(bucket) - bucket * (i64::from(limit) - 1));
        let rows = self
            .store
            .candles(book.0, bucket, Some(since), limit)
            .await
            .map_err(store_error)?;
        let price = |p: i64| Price(u32::try_from(p).unwrap_or(0));
        Ok(rows
            .iter()
            .map(|&[start, open, high, low, close, volume, notional]| {
                let candle = Candle {
                    start: Timestamp(start),
                    open: price(open),
                    high: price(high),
                    low: price(low),
                    close: price(close),
                    volume: Qty(volume as u64),
                    notional: Amount(notional),
                };
                if mirror { candle.mirrored() } else { candle }
            })
            .collect())
    }
}
