//! An example market maker: quotes both sides of every outcome of one market around a fair
//! price, skews its quotes against its inventory, and requotes atomically (one mass quote)
//! whenever the fair price moves or a quote is hit.
//!
//! ```text
//! cargo run -p betbet-feed-client --example market_maker -- \
//!     --server 127.0.0.1:9443 --fingerprint <hex printed by betbet serve> \
//!     --key-id key_1 --secret <secret from POST /api/v1/api-keys> --market mkt_1
//! ```
//!
//! The fair price is `--fair`, or else the middle of each book as the subscription's
//! snapshot shows it, and it follows trades with exponential smoothing. Quotes never cross
//! anyone else's resting orders (they are post-only: a crossing quote would be refused);
//! inventory beyond `--max-inventory` shares stops quoting the side that would grow it. A
//! refused quote is reported and the bot goes on. Ctrl-C cancels its quotes before it exits.

use betbet_feed_client::{FeedClient, FeedConfig, Trust, parse_fingerprint};
use betbet_protocol::event::BookSide;
use betbet_protocol::feed::{
    CancelAllRequest, CancelOnDisconnect, ExecKind, FeedData, FeedReply, FeedRequest,
    MarketRequest, MassQuoteRequest, Quote,
};
use betbet_protocol::ids::PublicId;
use betbet_protocol::types::{MarketId, OutcomeId, PRICE_SCALE, Price, QTY_SCALE, Qty};
use clap::Parser;
use std::collections::{BTreeMap, HashMap};

/// Quotes a BetBet market over the QUIC feed.
#[derive(Parser)]
struct Args {
    /// The feed's UDP address (`betbet serve --quic-addr`).
    #[arg(long)]
    server: std::net::SocketAddr,
    /// The server certificate's SHA-256 fingerprint, as `betbet serve` prints it.
    #[arg(long, value_parser = fingerprint)]
    fingerprint: [u8; 32],
    /// The API key's id, as the API prints it (`key_1`, or `1`).
    #[arg(long, value_parser = key_id)]
    key_id: u64,
    /// The API key's secret (shown once, when the key was made).
    #[arg(long)]
    secret: String,
    /// The market to quote (`mkt_1`, or `1`).
    #[arg(long, value_parser = market_id)]
    market: MarketId,
    /// Fair price of every book (default: each book's mid from the snapshot, else 0.50).
    #[arg(long, value_parser = price)]
    fair: Option<u32>,
    /// Width between bid and ask.
    #[arg(long, value_parser = price, default_value = "0.04")]
    spread: u32,
    /// Shares per quote.
    #[arg(long, default_value_t = 10)]
    size: u64,
    /// Shares of inventory past which the side that would grow it is not quoted.
    #[arg(long, default_value_t = 100)]
    max_inventory: i64,
    /// The market's tick size.
    #[arg(long, value_parser = price, default_value = "0.01")]
    tick: u32,
}

fn fingerprint(text: &str) -> Result<[u8; 32], String> {
    parse_fingerprint(text).ok_or_else(|| "must be 64 hex digits".to_owned())
}

fn key_id(text: &str) -> Result<u64, String> {
    text.strip_prefix("key_")
        .unwrap_or(text)
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{text}` is not a key id (key_1, or 1)"))
}

fn market_id(text: &str) -> Result<MarketId, String> {
    MarketId::parse(text)
        .or_else(|| text.parse().ok().filter(|&n| n > 0).map(MarketId))
        .ok_or_else(|| format!("`{text}` is not a market id (mkt_1, or 1)"))
}

/// A price like `0.55`, read exactly into 10^-4 units.
fn price(text: &str) -> Result<u32, String> {
    betbet_protocol::types::parse_decimal(text)
        .and_then(|d| Price::from_decimal(d).ok())
        .map(|p| p.0)
        .ok_or_else(|| format!("`{text}` is not a price strictly between 0 and 1 (like 0.55)"))
}

/// Prices and quantities as people read them.
fn shown(price: u32) -> String {
    Price(price).to_decimal().normalize().to_string()
}

fn shares(qty: Qty) -> String {
    qty.to_decimal().normalize().to_string()
}

/// One book's resting orders by price, from the snapshot and its deltas.
#[derive(Default)]
struct Levels {
    bids: BTreeMap<u32, u64>,
    asks: BTreeMap<u32, u64>,
}

impl Levels {
    fn set(&mut self, side: BookSide, price: Price, qty: Qty) {
        let levels = match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        };
        if qty.0 == 0 {
            levels.remove(&price.0);
        } else {
            levels.insert(price.0, qty.0);
        }
    }

    /// The best bid and ask of everyone else: levels that hold more than our own quote.
    fn others(&self, own: Option<&Quote>) -> (Option<u32>, Option<u32>) {
        let mine = |side: BookSide, price: u32| {
            own.map_or(0, |q| match side {
                BookSide::Bid if q.bid_price.0 == price => q.bid_qty.0,
                BookSide::Ask if q.ask_price.0 == price => q.ask_qty.0,
                _ => 0,
            })
        };
        let bid = self
            .bids
            .iter()
            .rev()
            .find(|&(&p, &q)| q > mine(BookSide::Bid, p))
            .map(|(&p, _)| p);
        let ask = self
            .asks
            .iter()
            .find(|&(&p, &q)| q > mine(BookSide::Ask, p))
            .map(|(&p, _)| p);
        (bid, ask)
    }

    fn mid(&self) -> Option<u32> {
        match (self.bids.keys().next_back(), self.asks.keys().next()) {
            (Some(&bid), Some(&ask)) => Some((bid + ask) / 2),
            (Some(&bid), None) => Some(bid),
            (None, Some(&ask)) => Some(ask),
            (None, None) => None,
        }
    }
}

/// Bid and ask around `fair`, half the spread each side, pushed against inventory, on the
/// tick grid and strictly inside (0, 1).
fn quote_prices(
    fair: u32,
    spread: u32,
    inventory: i64,
    max_inventory: i64,
    tick: u32,
) -> (u32, u32) {
    let skew = (inventory.clamp(-max_inventory, max_inventory) * i64::from(spread)
        / max_inventory.max(1)) as i32;
    let centre = (fair as i32 - skew / 2).clamp(tick as i32, (PRICE_SCALE - tick) as i32) as u32;
    let round = |p: u32| (p / tick * tick).clamp(tick, PRICE_SCALE - tick);
    let bid = round(centre.saturating_sub(spread / 2));
    let ask = round(centre + spread / 2).max(bid + tick);
    (bid, ask.min(PRICE_SCALE - tick))
}

/// Keeps a quote from crossing anyone else's resting orders: a bid below their best ask, an
/// ask above their best bid, on the tick grid and inside (0, 1).
fn outside_the_book(
    (bid, ask): (u32, u32),
    (others_bid, others_ask): (Option<u32>, Option<u32>),
    tick: u32,
) -> (u32, u32) {
    let bid = others_ask.map_or(bid, |a| bid.min(a.saturating_sub(tick)));
    let ask = others_bid.map_or(ask, |b| ask.max(b + tick));
    (
        bid.clamp(tick, PRICE_SCALE - tick),
        ask.clamp(tick, PRICE_SCALE - tick),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let config = FeedConfig {
        server: args.server,
        server_name: "localhost".to_owned(),
        trust: Trust::Fingerprint(args.fingerprint),
        key_id: args.key_id,
        secret: args.secret.clone().into_bytes(),
    };
    let (client, logged_in) = FeedClient::connect(&config).await?;
    println!("logged in as {}", logged_in.user.public());
    let (mut orders, mut replies) = client.order_entry();
    let market = args.market;
    // A bot that loses its connection must not leave stale quotes resting.
    orders
        .send(&FeedRequest::CancelOnDisconnect(CancelOnDisconnect {
            client_ref: 0,
            enabled: true,
        }))
        .await?;
    match replies.next().await? {
        Some(FeedReply::CancelOnDisconnect(ack)) if ack.enabled => {}
        other => {
            return Err(format!("cancel on disconnect was not acknowledged: {other:?}").into());
        }
    }
    orders
        .send(&FeedRequest::Subscribe(MarketRequest { market }))
        .await?;
    let mut data = orders.next_market_stream().await?;
    let mut books: Vec<OutcomeId> = Vec::new();
    let mut levels: HashMap<OutcomeId, Levels> = HashMap::new();
    let mut fair: HashMap<OutcomeId, u32> = HashMap::new();
    let mut inventory: HashMap<OutcomeId, i64> = HashMap::new();
    let mut quoted: HashMap<OutcomeId, Quote> = HashMap::new();
    let mut quote_orders: HashMap<u64, (OutcomeId, bool)> = HashMap::new();
    let mut live: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut next_ref = 1u64;
    let mut requote = true;
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        if requote && !books.is_empty() {
            let quotes: Vec<Quote> = books
                .iter()
                .map(|book| {
                    let held = *inventory.get(book).unwrap_or(&0);
                    let centre = fair
                        .get(book)
                        .copied()
                        .or(args.fair)
                        .unwrap_or(PRICE_SCALE / 2);
                    let around =
                        quote_prices(centre, args.spread, held, args.max_inventory, args.tick);
                    let book_levels = levels.get(book);
                    let others = book_levels.map_or((None, None), |l| l.others(quoted.get(book)));
                    let (bid, ask) = outside_the_book(around, others, args.tick);
                    Quote {
                        outcome: *book,
                        bid_price: Price(bid),
                        bid_qty: Qty(if held >= args.max_inventory {
                            0
                        } else {
                            args.size * QTY_SCALE
                        }),
                        ask_price: Price(ask),
                        ask_qty: Qty(if held <= -args.max_inventory || ask <= bid {
                            0
                        } else {
                            args.size * QTY_SCALE
                        }),
                    }
                })
                .collect();
            for quote in &quotes {
                println!(
                    "quoting {}: bid {} × {}, ask {} × {}",
                    quote.outcome.public(),
                    shown(quote.bid_price.0),
                    shares(quote.bid_qty),
                    shown(quote.ask_price.0),
                    shares(quote.ask_qty)
                );
                quoted.insert(quote.outcome, *quote);
            }
            orders
                .send(&FeedRequest::MassQuote(MassQuoteRequest {
                    client_ref: next_ref,
                    market,
                    quotes,
                }))
                .await?;
            next_ref += 1;
            requote = false;
        }
        tokio::select! {
            _ = &mut stop => {
                // Take the quotes off the book before leaving: cancel them, wait (briefly)
                // for their cancellations, then close so the server knows at once.
                orders
                    .send(&FeedRequest::CancelAll(CancelAllRequest { client_ref: next_ref, market }))
                    .await?;
                let waiting = async {
                    while !live.is_empty() {
                        match replies.next().await {
                            Ok(Some(FeedReply::Exec(report))) if matches!(report.kind, ExecKind::Cancelled | ExecKind::Filled) => {
                                live.remove(&report.order.0);
                            }
                            Ok(Some(_)) => {}
                            _ => break,
                        }
                    }
                };
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), waiting).await;
                orders.close().await;
                println!("quotes cancelled; bye");
                return Ok(());
            }
            message = data.next() => match message? {
                Some(FeedData::Snapshot(snapshot)) => {
                    if !books.contains(&snapshot.book) {
                        books.push(snapshot.book);
                    }
                    let mut book = Levels::default();
                    for level in &snapshot.bids {
                        book.set(BookSide::Bid, level.price, level.qty);
                    }
                    for level in &snapshot.asks {
                        book.set(BookSide::Ask, level.price, level.qty);
                    }
                    if args.fair.is_none() && !fair.contains_key(&snapshot.book) && let Some(mid) = book.mid() {
                        fair.insert(snapshot.book, mid);
                    }
                    levels.insert(snapshot.book, book);
                    requote = true;
                }
                Some(FeedData::Delta(delta)) => {
                    levels.entry(delta.book).or_default().set(delta.side, delta.price, delta.qty);
                }
                Some(FeedData::Trade(trade)) => {
                    // Smooth the fair price towards the last trade (alpha = 1/4).
                    let current = i64::from(fair.get(&trade.book).copied().or(args.fair).unwrap_or(PRICE_SCALE / 2));
                    let next = current + (i64::from(trade.price.0) - current) / 4;
                    fair.insert(trade.book, next as u32);
                    requote = true;
                }
                Some(_) => {}
                None => return Ok(()),
            },
            reply = replies.next() => match reply? {
                Some(FeedReply::MassQuote(ack)) => {
                    if let Some(code) = ack.code {
                        // The book moved under the quote: requote on the next market data.
                        println!("quote {} refused: {code}; requoting", ack.client_ref);
                    }
                    // The new quotes replace the old ones (which can no longer fill), so only
                    // they are tracked: memory stays bounded however long the bot runs.
                    live.clear();
                    quote_orders.clear();
                    for (i, order) in ack.orders.iter().enumerate() {
                        let book = books[(i / 2).min(books.len() - 1)];
                        quote_orders.insert(order.0, (book, i % 2 == 0));
                        live.insert(order.0);
                    }
                }
                Some(FeedReply::Exec(report)) if matches!(report.kind, ExecKind::Filled | ExecKind::PartiallyFilled) => {
                    if let Some(&(book, is_bid)) = quote_orders.get(&report.order.0) {
                        let change = report.last_qty.0 as i64 / QTY_SCALE as i64;
                        let held = inventory.entry(book).or_default();
                        *held += if is_bid { change } else { -change };
                        println!(
                            "{} {} @ {} on {}; inventory {}",
                            if is_bid { "bought" } else { "sold" },
                            shares(report.last_qty),
                            shown(report.last_price.0),
                            book.public(),
                            held
                        );
                        requote = true;
                    }
                }
                Some(_) => {}
                None => return Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_prices_are_read_as_the_api_prints_them() {
        assert_eq!(key_id("key_7"), Ok(7));
        assert_eq!(key_id("7"), Ok(7));
        assert!(key_id("key_x").is_err());
        assert_eq!(market_id("mkt_3"), Ok(MarketId(3)));
        assert_eq!(price("0.55"), Ok(5_500));
        assert!(price("1.5").is_err());
        assert_eq!(shown(5_500), "0.55");
    }

    #[test]
    fn quotes_never_cross_the_rest_of_the_book() {
        // The demo's book: 0.55 bid, 0.60 ask; a fair price of 0.50 would bid 0.48, ask 0.52.
        assert_eq!(
            outside_the_book((4_800, 5_200), (Some(5_500), Some(6_000)), 100),
            (4_800, 5_600)
        );
        assert_eq!(
            outside_the_book((6_100, 6_500), (Some(5_500), Some(6_000)), 100),
            (5_900, 6_500)
        );
        let mut levels = Levels::default();
        levels.set(BookSide::Bid, Price(5_500), Qty(10));
        levels.set(BookSide::Ask, Price(6_000), Qty(10));
        assert_eq!(levels.mid(), Some(5_750));
        // Our own quote is not someone else's order.
        let own = Quote {
            outcome: OutcomeId(1),
            bid_price: Price(5_500),
            bid_qty: Qty(10),
            ask_price: Price(7_000),
            ask_qty: Qty(10),
        };
        assert_eq!(levels.others(Some(&own)), (None, Some(6_000)));
    }

    #[test]
    fn quotes_straddle_fair_and_lean_against_inventory() {
        assert_eq!(quote_prices(5_000, 400, 0, 100, 100), (4_800, 5_200));
        let (bid, ask) = quote_prices(5_000, 400, 100, 100, 100);
        assert!(
            bid < 4_800 && ask < 5_200,
            "long inventory lowers both quotes"
        );
        let (bid, ask) = quote_prices(100, 400, 0, 100, 100);
        assert!(bid >= 100 && ask > bid);
    }
}
