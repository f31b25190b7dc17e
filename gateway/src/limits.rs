//! Per-client rate limits (token buckets) by route class, keyed by IP and by user.
//!
//! The table of buckets is bounded: when it is full, buckets that have refilled completely
//! (carrying no information) are dropped first; if that is not enough the oldest go.

use crate::config::{RateLimits, RouteClass};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

const BUCKETS_MAX: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    Ip(IpAddr),
    User(u64),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<(Client, RouteClass), Bucket>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token; `Err(seconds)` says how long until one is available. `scale`
    /// multiplies the class's allowance (an IP may carry many users behind one NAT).
    pub fn check(&self, client: Client, class: RouteClass, scale: u32) -> Result<(), u64> {
        let limit = self.limits.get(class);
        let capacity = f64::from(limit.requests) * f64::from(scale.max(1));
        let per_second = capacity / limit.window.as_secs_f64();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() >= BUCKETS_MAX && !buckets.contains_key(&(client, class)) {
            buckets.retain(|(_, class), bucket| {
                let limit = self.limits.get(*class);
                let refill = limit.window.as_secs_f64();
                now.duration_since(bucket.updated).as_secs_f64() < refill
            });
            if buckets.len() >= BUCKETS_MAX {
                buckets.clear();
            }
        }
        let bucket = buckets.entry((client, class)).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateLimit;
    use std::time::Duration;

    #[test]
    fn buckets_refuse_past_the_limit() {
        let limits = RateLimits {
            wallet: RateLimit {
                requests: 3,
                window: Duration::from_secs(60),
            },
            ..RateLimits::default()
        };
        let limiter = RateLimiter::new(limits);
        let client = Client::User(1);
        for _ in 0..3 {
            assert!(limiter.check(client, RouteClass::Wallet, 1).is_ok());
        }
        let retry = limiter.check(client, RouteClass::Wallet, 1).unwrap_err();
        assert!((1..=20).contains(&retry));
        // Other clients and classes are independent.
        assert!(
            limiter
                .check(Client::User(2), RouteClass::Wallet, 1)
                .is_ok()
        );
        assert!(limiter.check(client, RouteClass::Default, 1).is_ok());
    }
}
